"""The plan's figures, each computed by one function used by the dashboard, the exports and
the API alike, so that they can never disagree.

Every function takes the cycle and the coordinator's Scope and issues a fixed number of
queries, whatever the number of rows.

Definitions:
- enrolled operators: distinct operators with at least one enrolment in the cycle;
- active operators: enrolled operators with activity (a module opened or a quiz submitted)
  in the last 30 days;
- completions: course completions recorded in the cycle;
- completion rate: completions / enrolments (each enrolment is one operator in one course);
- quiz pass rate: passed attempts / submitted attempts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, distinct, extract, func, select

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
    utcnow,
)
from lgnetforma.services.cycles import eligible_condition
from lgnetforma.services.scope import Scope

GroupBy = Literal["region", "province", "comune", "course"]
GROUP_BY: tuple[GroupBy, ...] = ("region", "province", "comune", "course")
ACTIVE_DAYS = 30


@dataclass(frozen=True)
class Figures:
    """The headline figures of one group (or of the whole scope)."""

    enrolled: int = 0
    enrolments: int = 0
    active: int = 0
    completions: int = 0
    attempts: int = 0
    passed_attempts: int = 0

    @property
    def completion_rate(self) -> float | None:
        return self.completions / self.enrolments if self.enrolments else None

    @property
    def pass_rate(self) -> float | None:
        return self.passed_attempts / self.attempts if self.attempts else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "enrolled": self.enrolled,
            "enrolments": self.enrolments,
            "active_30d": self.active,
            "completions": self.completions,
            "completion_rate": _round(self.completion_rate),
            "attempts": self.attempts,
            "passed_attempts": self.passed_attempts,
            "quiz_pass_rate": _round(self.pass_rate),
        }


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


@dataclass(frozen=True)
class ReportRow:
    key: str  # region/province code, ISTAT code or course slug
    id: int
    name: str
    figures: Figures
    population: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, **self.figures.as_dict()}


# --- the building blocks ---------------------------------------------------------------


def _active_since(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=ACTIVE_DAYS)


def _group_column(group_by: GroupBy | None) -> ColumnElement[Any] | None:
    return {
        None: None,
        "region": Comune.region_id,
        "province": Comune.province_id,
        "comune": Comune.id,
        "course": None,  # taken from each fact table
    }[group_by]


def _parent_condition(
    group_by: GroupBy | None, region_id: int | None, province_id: int | None
) -> ColumnElement[bool] | None:
    conditions = []
    if region_id is not None:
        conditions.append(Comune.region_id == region_id)
    if province_id is not None:
        conditions.append(Comune.province_id == province_id)
    return and_(*conditions) if conditions else None


def _aggregate(
    query: Select,
    *,
    course_column: ColumnElement[Any],
    group_by: GroupBy | None,
    scope: Scope,
    region_id: int | None,
    province_id: int | None,
) -> Select:
    """Add the scope, the drill-down filter and the grouping to a fact query on Comune."""
    query = query.where(scope.comune_condition())
    parent = _parent_condition(group_by, region_id, province_id)
    if parent is not None:
        query = query.where(parent)
    key = course_column if group_by == "course" else _group_column(group_by)
    if key is None:
        return query.add_columns(func.cast(0, db.Integer).label("group_id"))
    return query.add_columns(key.label("group_id")).group_by(key)


def _enrolment_facts(cycle: Cycle, now: datetime | None) -> Select:
    cutoff = _active_since(now)
    return (
        select(
            func.count(distinct(Enrolment.user_id)).label("enrolled"),
            func.count(Enrolment.id).label("enrolments"),
            func.count(
                distinct(case((Enrolment.last_activity_at >= cutoff, Enrolment.user_id)))
            ).label("active"),
        )
        .select_from(Enrolment)
        .join(User, User.id == Enrolment.user_id)
        .join(Comune, Comune.id == User.comune_id)
        .where(Enrolment.cycle_id == cycle.id)
    )


def _completion_facts(cycle: Cycle) -> Select:
    return (
        select(func.count(CourseCompletion.id).label("completions"))
        .select_from(CourseCompletion)
        .join(Comune, Comune.id == CourseCompletion.comune_id)
        .where(CourseCompletion.cycle_id == cycle.id)
    )


def _attempt_facts(cycle: Cycle) -> Select:
    return (
        select(
            func.count(QuizAttempt.id).label("attempts"),
            func.coalesce(func.sum(case((QuizAttempt.passed.is_(True), 1), else_=0)), 0).label(
                "passed_attempts"
            ),
        )
        .select_from(QuizAttempt)
        .join(Module, Module.id == QuizAttempt.module_id)
        .join(User, User.id == QuizAttempt.user_id)
        .join(Comune, Comune.id == User.comune_id)
        .where(QuizAttempt.cycle_id == cycle.id, QuizAttempt.submitted_at.is_not(None))
    )


def _figures_by_group(
    cycle: Cycle,
    scope: Scope,
    group_by: GroupBy | None,
    *,
    region_id: int | None = None,
    province_id: int | None = None,
    now: datetime | None = None,
) -> dict[int, Figures]:
    """Three aggregate queries (enrolments, completions, attempts), merged by group."""
    common = {
        "group_by": group_by,
        "scope": scope,
        "region_id": region_id,
        "province_id": province_id,
    }
    queries = {
        "enrolments": _aggregate(
            _enrolment_facts(cycle, now), course_column=Enrolment.course_id, **common
        ),
        "completions": _aggregate(
            _completion_facts(cycle), course_column=CourseCompletion.course_id, **common
        ),
        "attempts": _aggregate(_attempt_facts(cycle), course_column=Module.course_id, **common),
    }
    merged: dict[int, dict[str, int]] = {}
    for query in queries.values():
        for row in db.session.execute(query).mappings():
            values = merged.setdefault(row["group_id"], {})
            values.update({k: int(v or 0) for k, v in row.items() if k != "group_id"})
    return {group: Figures(**values) for group, values in merged.items()}


# --- the figures -----------------------------------------------------------------------


def summary(cycle: Cycle, scope: Scope, *, now: datetime | None = None) -> Figures:
    """The headline figures of the whole scope."""
    return _figures_by_group(cycle, scope, None, now=now).get(0, Figures())


def completion_report(
    cycle: Cycle,
    scope: Scope,
    group_by: GroupBy,
    *,
    region_id: int | None = None,
    province_id: int | None = None,
    now: datetime | None = None,
) -> list[ReportRow]:
    """The figures by region, province, comune or course.

    Every region, province, course in scope is listed, with zeros where nothing happened;
    comuni are listed when they have any activity (there are thousands).
    """
    figures = _figures_by_group(
        cycle, scope, group_by, region_id=region_id, province_id=province_id, now=now
    )
    rows = []
    for group_id, key, name, population in _groups(
        cycle, scope, group_by, region_id=region_id, province_id=province_id, only=figures
    ):
        rows.append(ReportRow(key, group_id, name, figures.get(group_id, Figures()), population))
    return rows


def _groups(
    cycle: Cycle,
    scope: Scope,
    group_by: GroupBy,
    *,
    region_id: int | None,
    province_id: int | None,
    only: dict[int, Figures],
) -> list[tuple[int, str, str, int | None]]:
    """The labels of the groups: one query."""
    if group_by == "course":
        query = (
            select(Course.id, Course.slug, CourseVersion.title, func.cast(None, db.Integer))
            .join(CourseVersion, CourseVersion.id == Course.current_version_id)
            .where(Course.cycle_id == cycle.id)
            .where((Course.is_published.is_(True)) | Course.id.in_(list(only) or [-1]))
            .order_by(CourseVersion.title)
        )
        return [tuple(row) for row in db.session.execute(query)]
    if group_by == "region":
        query = (
            select(Region.id, Region.code, Region.name, func.cast(None, db.Integer))
            .where(Region.id.in_(select(Comune.region_id).where(scope.comune_condition())))
            .order_by(Region.code)
        )
    elif group_by == "province":
        query = (
            select(Province.id, Province.abbreviation, Province.name, func.cast(None, db.Integer))
            .where(
                Province.id.in_(
                    select(Comune.province_id).where(
                        scope.comune_condition(),
                        *([Comune.region_id == region_id] if region_id is not None else []),
                    )
                )
            )
            .order_by(Province.name)
        )
    else:
        conditions = [scope.comune_condition(), Comune.id.in_(list(only) or [-1])]
        if region_id is not None:
            conditions.append(Comune.region_id == region_id)
        if province_id is not None:
            conditions.append(Comune.province_id == province_id)
        query = (
            select(Comune.id, Comune.istat_code, Comune.name, Comune.population)
            .where(*conditions)
            .order_by(Comune.name)
        )
    return [tuple(row) for row in db.session.execute(query)]


@dataclass(frozen=True)
class MonthCount:
    year: int
    month: int
    completions: int

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def completions_by_month(cycle: Cycle, scope: Scope) -> list[MonthCount]:
    """Course completions per calendar month of the cycle, every month listed."""
    year = extract("year", CourseCompletion.completed_at)
    month = extract("month", CourseCompletion.completed_at)
    query = (
        select(year, month, func.count(CourseCompletion.id))
        .join(Comune, Comune.id == CourseCompletion.comune_id)
        .where(CourseCompletion.cycle_id == cycle.id, scope.comune_condition())
        .group_by(year, month)
    )
    counts = {(int(y), int(m)): int(n) for y, m, n in db.session.execute(query)}
    months = []
    y, m = cycle.start_date.year, cycle.start_date.month
    while (y, m) <= (cycle.end_date.year, cycle.end_date.month):
        months.append(MonthCount(y, m, counts.get((y, m), 0)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


# --- coverage --------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    eligible: int
    reached: int  # at least one enrolled operator
    completed: int  # at least one course completion

    @property
    def reached_rate(self) -> float | None:
        return self.reached / self.eligible if self.eligible else None

    @property
    def completed_rate(self) -> float | None:
        return self.completed / self.eligible if self.eligible else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "eligible_comuni": self.eligible,
            "reached_comuni": self.reached,
            "comuni_with_completion": self.completed,
            "reached_rate": _round(self.reached_rate),
            "completed_rate": _round(self.completed_rate),
        }


def _reached_comuni(cycle: Cycle) -> Select:
    return (
        select(User.comune_id)
        .join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.cycle_id == cycle.id)
    )


def coverage(
    cycle: Cycle, scope: Scope, *, region_id: int | None = None, province_id: int | None = None
) -> Coverage:
    """Of the eligible comuni in scope: how many are reached, how many have a completion."""
    completed = select(CourseCompletion.comune_id).where(CourseCompletion.cycle_id == cycle.id)
    conditions = [eligible_condition(cycle), scope.comune_condition()]
    if region_id is not None:
        conditions.append(Comune.region_id == region_id)
    if province_id is not None:
        conditions.append(Comune.province_id == province_id)
    row = db.session.execute(
        select(
            func.count(Comune.id),
            func.count(case((Comune.id.in_(_reached_comuni(cycle)), 1))),
            func.count(case((Comune.id.in_(completed), 1))),
        ).where(*conditions)
    ).one()
    return Coverage(int(row[0]), int(row[1]), int(row[2]))


@dataclass
class UnreachedPage:
    rows: list[tuple[Comune, Province, Region]] = field(default_factory=list)
    total: int = 0


SORTS = {
    "population_desc": (Comune.population.desc(), Comune.name),
    "population_asc": (Comune.population.asc(), Comune.name),
    "name": (Comune.name,),
}


def unreached_query(
    cycle: Cycle,
    scope: Scope,
    *,
    region_id: int | None = None,
    province_id: int | None = None,
    sort: str = "population_desc",
) -> Select:
    """Eligible comuni in scope without any enrolled operator, as a query (pages, exports)."""
    query = (
        select(Comune, Province, Region)
        .join(Province, Province.id == Comune.province_id)
        .join(Region, Region.id == Comune.region_id)
        .where(
            eligible_condition(cycle),
            scope.comune_condition(),
            Comune.id.not_in(_reached_comuni(cycle).where(User.comune_id.is_not(None))),
        )
    )
    if region_id is not None:
        query = query.where(Comune.region_id == region_id)
    if province_id is not None:
        query = query.where(Comune.province_id == province_id)
    return query.order_by(*SORTS.get(sort, SORTS["population_desc"]))


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
    cycle: Cycle, scope: Scope, *, course_id: int | None = None, batch: int = 2000
) -> Iterator[dict[str, Any]]:
    """One row per enrolment in scope, streamed in batches (flat memory for any size)."""
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
        .outerjoin(
            CourseCompletion,
            and_(
                CourseCompletion.user_id == Enrolment.user_id,
                CourseCompletion.course_id == Enrolment.course_id,
                CourseCompletion.cycle_id == Enrolment.cycle_id,
            ),
        )
        .where(Enrolment.cycle_id == cycle.id, scope.comune_condition())
        .order_by(Region.name, Province.abbreviation, Comune.name, User.full_name, Enrolment.id)
    )
    if course_id is not None:
        query = query.where(Enrolment.course_id == course_id)
    result = db.session.execute(query.execution_options(yield_per=batch))
    for row in result:
        yield dict(zip(DETAIL_COLUMNS, row, strict=True))
