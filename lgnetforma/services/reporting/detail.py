"""The per-operator detail: one row per enrolment, for the export of a selection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, func, select

from lgnetforma.extensions import db
from lgnetforma.models import (
    Comune,
    Course,
    CourseCompletion,
    CourseVersion,
    Cycle,
    Enrolment,
    Module,
    ModuleCompletion,
    Province,
    QuizAttempt,
    Region,
    User,
)
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.reporting.facts import _territory_conditions

# --- the per-operator detail -----------------------------------------------------------

DETAIL_COLUMNS = (
    "name",
    "email",
    "comune",
    "province",
    "region",
    "course",
    "modules_completed",
    "best_score",
    "completed_at",
)


def operator_detail(
    cycle: Cycle,
    scope: Scope,
    *,
    region_id: int | None = None,
    province_id: int | None = None,
    comune_id: int | None = None,
    course_id: int | None = None,
    batch: int = 2000,
) -> Iterator[dict[str, Any]]:
    """One row per enrolment in the selection, streamed in batches (flat memory for any size).

    This is personal data, not a figure, so it is read live even for a closed cycle: the
    snapshot keeps only anonymous counts, and a deleted account must disappear from here
    (GDPR art. 17) rather than be preserved in a frozen copy. Course titles are the
    current ones.
    """
    modules_done = (
        select(
            ModuleCompletion.user_id,
            Module.course_id,
            func.count(ModuleCompletion.id).label("done"),
        )
        .join(Module, Module.id == ModuleCompletion.module_id)
        .where(ModuleCompletion.cycle_id == cycle.id)
        .group_by(ModuleCompletion.user_id, Module.course_id)
        .subquery()
    )
    best = (
        select(
            QuizAttempt.user_id,
            Module.course_id,
            func.max(QuizAttempt.score).label("best"),
        )
        .join(Module, Module.id == QuizAttempt.module_id)
        .where(QuizAttempt.cycle_id == cycle.id, QuizAttempt.submitted_at.is_not(None))
        .group_by(QuizAttempt.user_id, Module.course_id)
        .subquery()
    )
    query = (
        select(
            User.full_name,
            User.email,
            Comune.name,
            Province.abbreviation,
            Region.name,
            CourseVersion.title,
            func.coalesce(modules_done.c.done, 0),
            best.c.best,
            CourseCompletion.completed_at,
        )
        .select_from(Enrolment)
        .join(User, User.id == Enrolment.user_id)
        .join(Comune, Comune.id == User.comune_id)
        .join(Province, Province.id == Comune.province_id)
        .join(Region, Region.id == Comune.region_id)
        .join(Course, Course.id == Enrolment.course_id)
        .join(CourseVersion, CourseVersion.id == Course.current_version_id)
        .outerjoin(
            modules_done,
            and_(
                modules_done.c.user_id == Enrolment.user_id,
                modules_done.c.course_id == Enrolment.course_id,
            ),
        )
        .outerjoin(
            best, and_(best.c.user_id == Enrolment.user_id, best.c.course_id == Enrolment.course_id)
        )
        .outerjoin(CourseCompletion, CourseCompletion.of_enrolment())
        .where(
            Enrolment.cycle_id == cycle.id,
            scope.comune_condition(),
            *_territory_conditions(region_id, province_id, comune_id),
        )
        .order_by(Region.name, Province.abbreviation, Comune.name, User.full_name, Enrolment.id)
    )
    if course_id is not None:
        query = query.where(Enrolment.course_id == course_id)
    result = db.session.execute(query.execution_options(yield_per=batch))
    for row in result:
        yield dict(zip(DETAIL_COLUMNS, row, strict=True))
