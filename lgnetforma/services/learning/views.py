"""Reading a module: the view recorded once per operator and cycle, and the attempts shown
beside it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lgnetforma.extensions import db
from lgnetforma.models import (
    CourseCompletion,
    Cycle,
    Enrolment,
    Module,
    ModuleVersion,
    ModuleView,
    QuizAttempt,
    User,
)
from lgnetforma.services.learning.completion import _complete_module, _record_id
from lgnetforma.services.learning.enrolment import _activity_due, _touch
from lgnetforma.services.platform.cycles import cycle_is_open

# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedView:
    changed: bool  # something was written: the caller commits
    completion: CourseCompletion | None = None  # the course this view completed


def record_view(
    user: User, module: Module, version: ModuleVersion, cycle: Cycle, enrolment: Enrolment
) -> RecordedView:
    """Remember that an enrolled operator opened ``module`` (the first time counts).

    Nothing is recorded in a closed cycle: reading stays possible, its records do not change.
    A repeated view of a quiz module writes nothing (activity is kept to the hour), and
    then takes no lock either.
    """
    viewed = _record_id(ModuleView, user, module, cycle) is not None
    if viewed and version.quiz is not None and not _activity_due(enrolment):
        return RecordedView(changed=False)
    if not cycle_is_open(cycle):
        return RecordedView(changed=False)
    changed = _touch(enrolment)
    if not viewed:
        try:
            with db.session.begin_nested():
                db.session.add(
                    ModuleView(
                        user_id=user.id,
                        module_id=module.id,
                        module_version_id=version.id,
                        cycle_id=cycle.id,
                    )
                )
            changed = True
        except IntegrityError:
            pass  # opened in another tab at the same moment
    if version.quiz is None:  # reading it is what completes it
        completion = _complete_module(user, module, version, cycle, attempt=None)
        return RecordedView(changed=True, completion=completion)
    return RecordedView(changed=changed)


def attempt_rows(user: User, module: Module, cycle: Cycle) -> list[AttemptRow]:
    """What the module page lists of the user's attempts (no answers, no results)."""
    rows = db.session.execute(
        select(
            QuizAttempt.public_id,
            QuizAttempt.number,
            QuizAttempt.score,
            QuizAttempt.submitted_at.is_not(None),
            QuizAttempt.passed,
        )
        .where(
            QuizAttempt.user_id == user.id,
            QuizAttempt.module_id == module.id,
            QuizAttempt.cycle_id == cycle.id,
        )
        .order_by(QuizAttempt.number)
    )
    return [AttemptRow(*row) for row in rows]


@dataclass(frozen=True)
class AttemptRow:
    public_id: str
    number: int
    score: float | None
    is_submitted: bool
    passed: bool | None
