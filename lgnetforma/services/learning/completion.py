"""Completion: a module when read (and its quiz passed), a course when all its modules are,
recorded in the cycle that was open with the versions taken."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lgnetforma.extensions import db
from lgnetforma.models import (
    Course,
    CourseCompletion,
    Cycle,
    Module,
    ModuleCompletion,
    ModuleVersion,
    ModuleView,
    QuizAttempt,
    User,
)
from lgnetforma.services.reporting import tallies

# --- completion ------------------------------------------------------------------------


def _record_id(
    model: type[ModuleView] | type[ModuleCompletion], user: User, module: Module, cycle: Cycle
) -> int | None:
    """The id of the user's view or completion of ``module`` in ``cycle``, if any."""
    return db.session.scalar(
        select(model.id).where(
            model.user_id == user.id, model.module_id == module.id, model.cycle_id == cycle.id
        )
    )


def _complete_module(
    user: User,
    module: Module,
    version: ModuleVersion,
    cycle: Cycle,
    *,
    attempt: QuizAttempt | None,
) -> CourseCompletion | None:
    """Record a module as complete (if it was opened) and then, maybe, the course: the
    course completion just recorded, if any."""
    if cycle.closed_at is not None:  # callers checked under the cycle's lock already
        return None
    opened = _record_id(ModuleView, user, module, cycle)
    already = _record_id(ModuleCompletion, user, module, cycle)
    if opened is None or already is not None:
        return None
    try:
        with db.session.begin_nested():
            db.session.add(
                ModuleCompletion(
                    user_id=user.id,
                    module_id=module.id,
                    module_version_id=version.id,
                    cycle_id=cycle.id,
                    attempt_id=attempt.id if attempt else None,
                )
            )
    except IntegrityError:
        return None
    return _maybe_complete_course(user, module.course, cycle)


def _maybe_complete_course(user: User, course: Course, cycle: Cycle) -> CourseCompletion | None:
    if cycle.closed_at is not None:  # a closed cycle's completions never change
        return None
    modules = list(
        db.session.scalars(
            select(Module)
            .where(
                Module.course_id == course.id,
                Module.retired_at.is_(None),
                Module.current_version_id.is_not(None),
            )
            .order_by(Module.position)
        )
    )
    done = dict(
        db.session.execute(
            select(ModuleCompletion.module_id, ModuleCompletion.module_version_id).where(
                ModuleCompletion.user_id == user.id,
                ModuleCompletion.cycle_id == cycle.id,
                ModuleCompletion.module_id.in_([m.id for m in modules]),
            )
        ).all()
    )
    if not modules or any(m.id not in done for m in modules):
        return None
    if db.session.scalar(
        select(CourseCompletion.id).where(
            CourseCompletion.user_id == user.id,
            CourseCompletion.course_id == course.id,
            CourseCompletion.cycle_id == cycle.id,
        )
    ):
        return None
    version = course.current_version
    completion = CourseCompletion(
        user_id=user.id,
        course_id=course.id,
        course_version_id=version.id,
        cycle_id=cycle.id,
        comune_id=user.comune_id,
        hours=version.hours,
        module_versions=[done[m.id] for m in modules],
    )
    try:
        with db.session.begin_nested():
            db.session.add(completion)
    except IntegrityError:
        return None
    tallies.record_completion(completion)
    from lgnetforma.services.learning.certificates import issue_certificate

    issue_certificate(completion)
    return completion


def course_completion(user: User, course: Course, cycle: Cycle) -> CourseCompletion | None:
    return db.session.scalar(
        select(CourseCompletion).where(
            CourseCompletion.user_id == user.id,
            CourseCompletion.course_id == course.id,
            CourseCompletion.cycle_id == cycle.id,
        )
    )
