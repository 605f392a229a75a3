"""The coordinators' gradebook: every operator of a selection, their status, their record.

The list reads the same Selection as the dashboard, so a total on the dashboard and the
length of the list it links to count the same operators; "attempts used up" is the
learning service's rule (``allowances.used_up``), not a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, case, func, select

from lgnetforma.database import LIKE_ESCAPE, like_pattern
from lgnetforma.extensions import db
from lgnetforma.models import (
    Certificate,
    Comune,
    CourseCompletion,
    Cycle,
    Enrolment,
    Module,
    ModuleView,
    Province,
    QuizAttempt,
    Role,
    User,
)
from lgnetforma.services.coordination.scope import Selection
from lgnetforma.services.learning import allowances
from lgnetforma.services.learning import progress as progress_service

Status = Literal["not_started", "in_progress", "completed", "used_up"]
STATUSES: tuple[Status, ...] = ("not_started", "in_progress", "completed", "used_up")
SORTS = ("name", "comune", "completions", "status")
MAX_SEARCH = 100


def _status(
    enrolments: ColumnElement[int],
    completions: ColumnElement[int],
    stuck: ColumnElement[bool],
    started: ColumnElement[bool],
) -> ColumnElement[str]:
    """Completed: every course of the selection completed. Attempts used up: a quiz with
    no attempt left and not passed. In progress: anything opened or attempted. Otherwise
    not started."""
    return case(
        (completions >= enrolments, "completed"),
        (stuck, "used_up"),
        (started, "in_progress"),
        else_="not_started",
    )


def operator_query(
    cycle: Cycle,
    selection: Selection,
    *,
    status: str | None = None,
    search: str | None = None,
    sort: str = "name",
) -> Select:
    """The operators enrolled in the cycle within ``selection`` (and its course), one row
    each: (User, Comune, Province, enrolments, completions, status), as a query to page."""
    course_id = selection.course_id
    enrolments = (
        select(Enrolment.user_id, func.count(Enrolment.id).label("enrolments"))
        .where(Enrolment.cycle_id == cycle.id)
        .group_by(Enrolment.user_id)
    )
    completions = (
        select(CourseCompletion.user_id, func.count(CourseCompletion.id).label("completions"))
        .where(CourseCompletion.cycle_id == cycle.id)
        .group_by(CourseCompletion.user_id)
    )
    viewed = select(ModuleView.user_id).where(ModuleView.cycle_id == cycle.id)
    attempted = select(QuizAttempt.user_id).where(QuizAttempt.cycle_id == cycle.id)
    used_up = allowances.used_up(cycle).subquery()
    stuck = select(used_up.c.user_id)
    if course_id is not None:
        enrolments = enrolments.where(Enrolment.course_id == course_id)
        completions = completions.where(CourseCompletion.course_id == course_id)
        viewed = viewed.join(Module, Module.id == ModuleView.module_id).where(
            Module.course_id == course_id
        )
        attempted = attempted.join(Module, Module.id == QuizAttempt.module_id).where(
            Module.course_id == course_id
        )
        stuck = stuck.join(Module, Module.id == used_up.c.module_id).where(
            Module.course_id == course_id
        )
    enrolments_q = enrolments.subquery()
    completions_q = completions.subquery()
    n_completions = func.coalesce(completions_q.c.completions, 0)
    state = _status(
        enrolments_q.c.enrolments,
        n_completions,
        User.id.in_(stuck),
        User.id.in_(viewed) | User.id.in_(attempted),
    ).label("status")
    query = (
        select(
            User,
            Comune,
            Province,
            enrolments_q.c.enrolments,
            n_completions.label("completions"),
            state,
        )
        .join(enrolments_q, enrolments_q.c.user_id == User.id)
        .join(Comune, Comune.id == User.comune_id)
        .join(Province, Province.id == Comune.province_id)
        .outerjoin(completions_q, completions_q.c.user_id == User.id)
        .where(
            User.role == Role.OPERATOR,
            User.deleted_at.is_(None),
            selection.comune_condition(),
        )
    )
    if status in STATUSES:
        query = query.where(state == status)
    if search:
        pattern = like_pattern(search.strip().lower()[:MAX_SEARCH])
        query = query.where(func.lower(User.full_name).like(pattern, escape=LIKE_ESCAPE))
    order = {
        "name": (User.full_name, User.id),
        "comune": (Comune.name, User.full_name, User.id),
        "completions": (n_completions.desc(), User.full_name, User.id),
        "status": (state, User.full_name, User.id),
    }
    return query.order_by(*order.get(sort, order["name"]))


# --- one operator ----------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptLine:
    number: int
    version: int
    score: float | None
    passed: bool | None
    submitted_at: Any


@dataclass(frozen=True)
class ModuleLine:
    module: Module
    title: str
    has_quiz: bool
    opened: bool
    completed: bool
    allowance: allowances.Allowance | None
    attempts: list[AttemptLine]


@dataclass(frozen=True)
class CourseRecord:
    progress: progress_service.CourseProgress
    modules: list[ModuleLine]
    certificate: Certificate | None


def operator_record(operator: User, cycle: Cycle) -> list[CourseRecord]:
    """Every course of the operator in the cycle: each module's state, every attempt with
    its score and content version, the attempts left, the certificate."""
    records = []
    for progress in progress_service.my_courses(operator, cycle):
        course = progress.enrolment.course
        statuses = progress_service.module_statuses(operator, course, cycle)
        attempts: dict[int, list[AttemptLine]] = {}
        rows = db.session.execute(
            select(QuizAttempt, Module)
            .join(Module, Module.id == QuizAttempt.module_id)
            .where(
                QuizAttempt.user_id == operator.id,
                QuizAttempt.cycle_id == cycle.id,
                Module.course_id == course.id,
            )
            .order_by(QuizAttempt.number)
        )
        for attempt, _module in rows:
            attempts.setdefault(attempt.module_id, []).append(
                AttemptLine(
                    attempt.number,
                    attempt.module_version.number,
                    attempt.score,
                    attempt.passed,
                    attempt.submitted_at,
                )
            )
        lines = []
        for module in course.active_modules:
            version = module.current_version
            if version is None:
                continue
            status = statuses.get(module.id)
            has_quiz = version.quiz is not None
            lines.append(
                ModuleLine(
                    module=module,
                    title=version.title,
                    has_quiz=has_quiz,
                    opened=bool(status and status.opened),
                    completed=bool(status and status.completed),
                    allowance=allowances.attempt_allowance(operator, module, cycle)
                    if has_quiz
                    else None,
                    attempts=attempts.get(module.id, []),
                )
            )
        certificate = None
        if progress.completion is not None:
            certificate = db.session.scalar(
                select(Certificate).where(Certificate.completion_id == progress.completion.id)
            )
        records.append(CourseRecord(progress, lines, certificate))
    return records


def visible_operator(selection: Selection, user_id: int) -> User | None:
    """The operator, if they belong to the scope of ``selection``; otherwise None."""
    operator = db.session.get(User, user_id)
    if (
        operator is None
        or operator.role != Role.OPERATOR
        or operator.deleted_at is not None
        or not selection.scope.includes(operator.comune)
    ):
        return None
    return operator
