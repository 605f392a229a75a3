"""An operator's progress: their courses, and each module's state."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from lgnetforma.extensions import db
from lgnetforma.models import (
    Course,
    CourseCompletion,
    Cycle,
    Enrolment,
    Module,
    ModuleCompletion,
    ModuleVersion,
    ModuleView,
    QuizAttempt,
    User,
)

# --- progress --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleStatus:
    opened: bool
    completed: bool
    attempts: int
    passed: bool
    best_score: float | None


@dataclass(frozen=True)
class CourseProgress:
    enrolment: Enrolment
    modules_total: int
    modules_done: int
    quizzes_total: int
    quizzes_passed: int
    hours: float
    completion: CourseCompletion | None

    @property
    def percent(self) -> int:
        return round(100 * self.modules_done / self.modules_total) if self.modules_total else 0


def my_courses(user: User, cycle: Cycle) -> list[CourseProgress]:
    """Each enrolment of ``user`` in ``cycle`` with its progress, in a fixed number of queries."""
    enrolments = list(
        db.session.scalars(
            select(Enrolment)
            .where(Enrolment.user_id == user.id, Enrolment.cycle_id == cycle.id)
            .order_by(Enrolment.created_at)
        )
    )
    course_ids = [e.course_id for e in enrolments]
    if not course_ids:
        return []
    module_rows = db.session.execute(
        select(Module.course_id, Module.id, ModuleVersion.quiz.is_not(None))
        .join(ModuleVersion, ModuleVersion.id == Module.current_version_id)
        .where(Module.course_id.in_(course_ids), Module.retired_at.is_(None))
    ).all()
    done = set(
        db.session.scalars(
            select(ModuleCompletion.module_id).where(
                ModuleCompletion.user_id == user.id, ModuleCompletion.cycle_id == cycle.id
            )
        )
    )
    passed = set(
        db.session.scalars(
            select(QuizAttempt.module_id).where(
                QuizAttempt.user_id == user.id,
                QuizAttempt.cycle_id == cycle.id,
                QuizAttempt.passed.is_(True),
            )
        )
    )
    completions = {
        c.course_id: c
        for c in db.session.scalars(
            select(CourseCompletion).where(
                CourseCompletion.user_id == user.id, CourseCompletion.cycle_id == cycle.id
            )
        )
    }
    progress = []
    for enrolment in enrolments:
        rows = [r for r in module_rows if r[0] == enrolment.course_id]
        quiz_modules = [r[1] for r in rows if r[2]]
        progress.append(
            CourseProgress(
                enrolment=enrolment,
                modules_total=len(rows),
                modules_done=sum(1 for r in rows if r[1] in done),
                quizzes_total=len(quiz_modules),
                quizzes_passed=sum(1 for m in quiz_modules if m in passed),
                hours=enrolment.course.current_version.hours,
                completion=completions.get(enrolment.course_id),
            )
        )
    return progress


def next_modules(user: User, cycle: Cycle, course_ids: list[int]) -> dict[int, Module]:
    """Per course id: the first module, in the course's order, that ``user`` has not
    completed in ``cycle`` (courses with every module completed are absent)."""
    if not course_ids:
        return {}
    done = select(ModuleCompletion.module_id).where(
        ModuleCompletion.user_id == user.id, ModuleCompletion.cycle_id == cycle.id
    )
    found: dict[int, Module] = {}
    for module in db.session.scalars(
        select(Module)
        .where(
            Module.course_id.in_(course_ids),
            Module.retired_at.is_(None),
            Module.current_version_id.is_not(None),
            Module.id.not_in(done),
        )
        .order_by(Module.course_id, Module.position, Module.id)
    ):
        found.setdefault(module.course_id, module)
    return found


def module_statuses(user: User, course: Course, cycle: Cycle) -> dict[int, ModuleStatus]:
    """Per module id of ``course``: opened, completed, attempts, passed, best score."""
    opened = set(
        db.session.scalars(
            select(ModuleView.module_id)
            .join(Module, Module.id == ModuleView.module_id)
            .where(
                ModuleView.user_id == user.id,
                ModuleView.cycle_id == cycle.id,
                Module.course_id == course.id,
            )
        )
    )
    completed = set(
        db.session.scalars(
            select(ModuleCompletion.module_id)
            .join(Module, Module.id == ModuleCompletion.module_id)
            .where(
                ModuleCompletion.user_id == user.id,
                ModuleCompletion.cycle_id == cycle.id,
                Module.course_id == course.id,
            )
        )
    )
    attempt_rows = db.session.execute(
        select(
            QuizAttempt.module_id,
            func.count(QuizAttempt.submitted_at),
            func.max(QuizAttempt.score),
            func.max(func.coalesce(QuizAttempt.passed, False).cast(db.Integer)),
        )
        .join(Module, Module.id == QuizAttempt.module_id)
        .where(
            QuizAttempt.user_id == user.id,
            QuizAttempt.cycle_id == cycle.id,
            Module.course_id == course.id,
        )
        .group_by(QuizAttempt.module_id)
    ).all()
    attempts = {row[0]: row for row in attempt_rows}
    module_ids = opened | completed | set(attempts)
    return {
        module_id: ModuleStatus(
            opened=module_id in opened,
            completed=module_id in completed,
            attempts=attempts[module_id][1] if module_id in attempts else 0,
            passed=bool(attempts[module_id][3]) if module_id in attempts else False,
            best_score=attempts[module_id][2] if module_id in attempts else None,
        )
        for module_id in module_ids
    }
