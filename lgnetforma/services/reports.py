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

An open cycle's counts come from the running tallies (``ReportTally``, kept by
``lgnetforma.services.tallies`` in the same transaction as each event), so a national
report reads a few thousand rows, not a million attempts; only "active" is counted live,
from the recently active enrolments.

A closed cycle is served from its snapshot (``snapshot_data``, stored when the cycle was
closed): the same facts, counted by the same queries at the closing time, per comune, per
comune and course, and per comune and month. Each operator belongs to one comune, so the
distinct counts per comune add up to any territory; every scope and grouping is derived
from the snapshot without touching live tables, and the figures never change again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, TypeVar

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, case, distinct, extract, func, select

from lgnetforma.extensions import db
from lgnetforma.models import (
    Comune,
    Course,
    CourseCompletion,
    CourseVersion,
    Cycle,
    CycleSnapshot,
    Enrolment,
    Module,
    ModuleCompletion,
    Province,
    QuizAttempt,
    Region,
    ReportMonthTally,
    ReportTally,
    User,
    utcnow,
)
from lgnetforma.services.cycles import SNAPSHOT_FORMAT, eligible_condition
from lgnetforma.services.errors import ServiceError
from lgnetforma.services.scope import Scope

T = TypeVar("T")
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


def _tally_facts(cycle: Cycle, group_by: GroupBy | None) -> Select:
    """The counted figures of an open cycle, from the running tallies (a few thousand
    rows, whatever the number of attempts)."""
    # Within one course, each enrolment is a distinct operator.
    enrolled = ReportTally.enrolments if group_by == "course" else ReportTally.enrolled
    return (
        select(
            func.coalesce(func.sum(enrolled), 0).label("enrolled"),
            func.coalesce(func.sum(ReportTally.enrolments), 0).label("enrolments"),
            func.coalesce(func.sum(ReportTally.completions), 0).label("completions"),
            func.coalesce(func.sum(ReportTally.attempts), 0).label("attempts"),
            func.coalesce(func.sum(ReportTally.passed_attempts), 0).label("passed_attempts"),
        )
        .select_from(ReportTally)
        .join(Comune, Comune.id == ReportTally.comune_id)
        .where(ReportTally.cycle_id == cycle.id)
    )


def _active_facts(cycle: Cycle, now: datetime | None) -> Select:
    """Operators active in the last 30 days: read live (it moves with the clock), from the
    recently active enrolments only."""
    return (
        select(func.count(distinct(Enrolment.user_id)).label("active"))
        .select_from(Enrolment)
        .join(User, User.id == Enrolment.user_id)
        .join(Comune, Comune.id == User.comune_id)
        .where(Enrolment.cycle_id == cycle.id, Enrolment.last_activity_at >= _active_since(now))
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
    """Two aggregate queries (the tallies, the recently active), merged by group."""
    common = {
        "group_by": group_by,
        "scope": scope,
        "region_id": region_id,
        "province_id": province_id,
    }
    queries = (
        _aggregate(_tally_facts(cycle, group_by), course_column=ReportTally.course_id, **common),
        _aggregate(_active_facts(cycle, now), course_column=Enrolment.course_id, **common),
    )
    merged: dict[int, dict[str, int]] = {}
    for query in queries:
        for row in db.session.execute(query).mappings():
            values = {k: int(v or 0) for k, v in row.items() if k != "group_id"}
            if any(values.values()):
                merged.setdefault(row["group_id"], {}).update(values)
    return {group: Figures(**values) for group, values in merged.items()}


# --- a short reuse of live figures ---------------------------------------------------


_LIVE: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
_LIVE_LOCK = threading.Lock()
_LIVE_KEPT = 1024


def _live(key: tuple[Any, ...], compute: Callable[[], T], *, now: datetime | None = None) -> T:
    """``compute()`` for an open cycle, reused by this process for REPORT_CACHE_SECONDS.

    A national dashboard is asked for by many coordinators at once and its figures move
    by a few units a minute: recomputing them for every request would let a crowd of
    readers starve the operators. Zero turns the reuse off; an explicit ``now`` (a
    measurement at a given time) is never reused.
    """
    ttl = current_app.config.get("REPORT_CACHE_SECONDS", 0)
    if not ttl or now is not None:
        return compute()
    key = (db.session.get_bind().url.render_as_string(hide_password=True), *key)
    started = time.monotonic()
    with _LIVE_LOCK:
        found = _LIVE.get(key)
        if found is not None and started - found[0] < ttl:
            _LIVE.move_to_end(key)
            return found[1]
    value = compute()
    with _LIVE_LOCK:
        _LIVE[key] = (started, value)
        _LIVE.move_to_end(key)
        while len(_LIVE) > _LIVE_KEPT:
            _LIVE.popitem(last=False)
    return value


# --- the figures -----------------------------------------------------------------------


def summary(cycle: Cycle, scope: Scope, *, now: datetime | None = None) -> Figures:
    """The headline figures of the whole scope (of a closed cycle: from its snapshot,
    "active" as measured when it was closed, whatever ``now``)."""
    snapshot = _snapshot_source(cycle)
    if snapshot is not None:
        return snapshot.figures(scope, None).get(0, Figures())
    return _live(
        ("summary", cycle.id, scope),
        lambda: _figures_by_group(cycle, scope, None, now=now).get(0, Figures()),
        now=now,
    )


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
    comuni are listed when they have any activity (there are thousands). A closed cycle is
    served from its snapshot, course titles as they were when it was closed.
    """
    where = {"region_id": region_id, "province_id": province_id}
    snapshot = _snapshot_source(cycle)
    if snapshot is None:

        def compute() -> tuple[ReportRow, ...]:
            figures = _figures_by_group(cycle, scope, group_by, now=now, **where)
            return _rows(_groups(cycle, scope, group_by, only=figures, **where), figures)

        key = ("report", cycle.id, scope, group_by, region_id, province_id)
        return list(_live(key, compute, now=now))
    figures = snapshot.figures(scope, group_by, **where)
    return list(_rows(snapshot.groups(scope, group_by, only=figures, **where), figures))


def _rows(
    groups: list[tuple[int, str, str, int | None]], figures: dict[int, Figures]
) -> tuple[ReportRow, ...]:
    return tuple(
        ReportRow(key, group_id, name, figures.get(group_id, Figures()), population)
        for group_id, key, name, population in groups
    )


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
            .order_by(CourseVersion.title, Course.slug)
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
            .order_by(Province.name, Province.code)
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
            .order_by(Comune.name, Comune.istat_code)
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


def _month_columns() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    return (
        extract("year", CourseCompletion.completed_at),
        extract("month", CourseCompletion.completed_at),
    )


def completions_by_month(cycle: Cycle, scope: Scope) -> list[MonthCount]:
    """Course completions per calendar month of the cycle, every month listed."""
    snapshot = _snapshot_source(cycle)
    if snapshot is not None:
        counts = snapshot.months(scope)
        first, last = snapshot.start_date, snapshot.end_date
    else:
        query = (
            select(
                ReportMonthTally.year,
                ReportMonthTally.month,
                func.sum(ReportMonthTally.completions),
            )
            .join(Comune, Comune.id == ReportMonthTally.comune_id)
            .where(ReportMonthTally.cycle_id == cycle.id, scope.comune_condition())
            .group_by(ReportMonthTally.year, ReportMonthTally.month)
        )
        counts = _live(
            ("months", cycle.id, scope),
            lambda: {(int(y), int(m)): int(n) for y, m, n in db.session.execute(query)},
        )
        first, last = cycle.start_date, cycle.end_date
    months = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
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


def _comuni_with(cycle: Cycle, counted: ColumnElement[int]) -> Select:
    """The comuni with at least one ``counted`` (a tally column) in the cycle."""
    return select(ReportTally.comune_id).where(ReportTally.cycle_id == cycle.id, counted > 0)


def coverage(
    cycle: Cycle, scope: Scope, *, region_id: int | None = None, province_id: int | None = None
) -> Coverage:
    """Of the eligible comuni in scope: how many are reached, how many have a completion
    (of a closed cycle: eligibility and reach as they were when it was closed)."""
    snapshot = _snapshot_source(cycle)
    if snapshot is not None:
        return snapshot.coverage(scope, region_id=region_id, province_id=province_id)
    conditions = [eligible_condition(cycle), scope.comune_condition()]
    if region_id is not None:
        conditions.append(Comune.region_id == region_id)
    if province_id is not None:
        conditions.append(Comune.province_id == province_id)
    query = select(
        func.count(Comune.id),
        func.count(case((Comune.id.in_(_comuni_with(cycle, ReportTally.enrolments)), 1))),
        func.count(case((Comune.id.in_(_comuni_with(cycle, ReportTally.completions)), 1))),
    ).where(*conditions)

    def compute() -> Coverage:
        row = db.session.execute(query).one()
        return Coverage(int(row[0]), int(row[1]), int(row[2]))

    return _live(("coverage", cycle.id, scope, region_id, province_id), compute)


@dataclass
class UnreachedPage:
    rows: list[tuple[Comune, Province, Region]] = field(default_factory=list)
    total: int = 0


SORTS = {
    "population_desc": (Comune.population.desc(), Comune.name, Comune.istat_code),
    "population_asc": (Comune.population.asc(), Comune.name, Comune.istat_code),
    "name": (Comune.name, Comune.istat_code),
}


def unreached_query(
    cycle: Cycle,
    scope: Scope,
    *,
    region_id: int | None = None,
    province_id: int | None = None,
    sort: str = "population_desc",
) -> Select:
    """Eligible comuni in scope without any enrolled operator, as a query (pages, exports).

    For a closed cycle the list is the one frozen in its snapshot (eligibility, reach and
    territory as they were when it was closed); the rows are the registry's comuni, so
    names and populations shown are the registry's.
    """
    query = (
        select(Comune, Province, Region)
        .join(Province, Province.id == Comune.province_id)
        .join(Region, Region.id == Comune.region_id)
    )
    snapshot = _snapshot_source(cycle)
    if snapshot is not None:
        ids = snapshot.unreached_ids(scope, region_id=region_id, province_id=province_id)
        query = query.where(Comune.id.in_(ids))
    else:
        query = query.where(
            eligible_condition(cycle),
            scope.comune_condition(),
            Comune.id.not_in(_comuni_with(cycle, ReportTally.enrolments)),
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
    """One row per enrolment in scope, streamed in batches (flat memory for any size).

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
        .where(Enrolment.cycle_id == cycle.id, scope.comune_condition())
        .order_by(Region.name, Province.abbreviation, Comune.name, User.full_name, Enrolment.id)
    )
    if course_id is not None:
        query = query.where(Enrolment.course_id == course_id)
    result = db.session.execute(query.execution_options(yield_per=batch))
    for row in result:
        yield dict(zip(DETAIL_COLUMNS, row, strict=True))


# --- closed cycles: the snapshot -------------------------------------------------------

FIGURE_FIELDS = ("enrolled", "enrolments", "active", "completions", "attempts", "passed_attempts")


def _facts_by_comune(
    cycle: Cycle, now: datetime, *, by_course: bool
) -> dict[tuple[int, ...], dict[str, int]]:
    """The three fact queries of the reports, national, grouped by comune (and course)."""
    sources = (
        (_enrolment_facts(cycle, now), Enrolment.course_id),
        (_completion_facts(cycle), CourseCompletion.course_id),
        (_attempt_facts(cycle), Module.course_id),
    )
    merged: dict[tuple[int, ...], dict[str, int]] = {}
    for query, course_column in sources:
        keys = [Comune.id, course_column] if by_course else [Comune.id]
        labelled = [key.label(f"_key{n}") for n, key in enumerate(keys)]
        for row in db.session.execute(query.add_columns(*labelled).group_by(*keys)).mappings():
            values = merged.setdefault(
                tuple(int(row[f"_key{n}"]) for n in range(len(keys))),
                dict.fromkeys(FIGURE_FIELDS, 0),
            )
            values.update({k: int(v or 0) for k, v in row.items() if not k.startswith("_key")})
    return merged


def _table(columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> dict[str, Any]:
    return {"columns": list(columns), "rows": [list(row) for row in rows]}


def snapshot_data(cycle: Cycle, *, now: datetime) -> dict[str, Any]:
    """Everything the reports of ``cycle`` need, at the finest grain, as JSON data.

    Measured by the same fact queries as the live reports, at ``now`` (the closing time):
    per comune (with its registry labels, population and eligibility at that time, every
    comune listed), per comune and course, per comune and month; the regions, provinces
    and course labels as they were, each list in the database's own order so that the
    derived reports sort exactly as the live ones did.
    """
    regions = db.session.execute(select(Region.id, Region.code, Region.name).order_by(Region.code))
    provinces = db.session.execute(
        select(
            Province.id, Province.code, Province.abbreviation, Province.name, Province.region_id
        ).order_by(Province.name, Province.code)
    )
    comuni = db.session.execute(
        select(
            Comune.id,
            Comune.istat_code,
            Comune.name,
            Comune.province_id,
            Comune.region_id,
            Comune.population,
            case((eligible_condition(cycle), True), else_=False),
        ).order_by(Comune.name, Comune.istat_code)
    )
    courses = db.session.execute(
        select(Course.id, Course.slug, CourseVersion.title, Course.is_published)
        .join(CourseVersion, CourseVersion.id == Course.current_version_id)
        .where(Course.cycle_id == cycle.id)
        .order_by(CourseVersion.title, Course.slug)
    )
    year, month = _month_columns()
    months = db.session.execute(
        select(CourseCompletion.comune_id, year, month, func.count(CourseCompletion.id))
        .join(Comune, Comune.id == CourseCompletion.comune_id)
        .where(CourseCompletion.cycle_id == cycle.id)
        .group_by(CourseCompletion.comune_id, year, month)
        .order_by(CourseCompletion.comune_id, year, month)
    )

    def facts(by_course: bool) -> list[list[int]]:
        merged = _facts_by_comune(cycle, now, by_course=by_course)
        return [
            [*key, *(values[f] for f in FIGURE_FIELDS)] for key, values in sorted(merged.items())
        ]

    from lgnetforma.services.sessions import session_facts  # it imports this module's peers

    return {
        # The live sessions of the cycle and their counts per comune (services/sessions).
        "sessions": session_facts(cycle),
        "cycle": {
            "code": cycle.code,
            "start_date": cycle.start_date.isoformat(),
            "end_date": cycle.end_date.isoformat(),
            "population_threshold": cycle.population_threshold,
        },
        "measured_at": now.isoformat(),
        "active_since": _active_since(now).isoformat(),
        "regions": _table(("id", "code", "name"), regions),
        "provinces": _table(("id", "code", "abbreviation", "name", "region_id"), provinces),
        "comuni": _table(
            ("id", "istat_code", "name", "province_id", "region_id", "population", "eligible"),
            ([*row[:6], bool(row[6])] for row in comuni),
        ),
        "courses": _table(
            ("id", "slug", "title", "published"), ([*r[:3], bool(r[3])] for r in courses)
        ),
        "by_comune": _table(("comune_id", *FIGURE_FIELDS), facts(by_course=False)),
        "by_comune_course": _table(
            ("comune_id", "course_id", *FIGURE_FIELDS), facts(by_course=True)
        ),
        "completions_by_month": _table(
            ("comune_id", "year", "month", "completions"),
            ([int(v) for v in row] for row in months),
        ),
    }


@dataclass(frozen=True)
class _SnapshotComune:
    id: int
    istat_code: str
    name: str
    province_id: int
    region_id: int
    population: int | None
    eligible: bool


def _records(table: dict[str, Any]) -> Iterator[dict[str, Any]]:
    columns = table["columns"]
    for row in table["rows"]:
        yield dict(zip(columns, row, strict=True))


def _sum(rows: Iterable[tuple[int, tuple[int, ...]]]) -> dict[int, Figures]:
    totals: dict[int, list[int]] = {}
    for key, values in rows:
        total = totals.setdefault(key, [0] * len(FIGURE_FIELDS))
        for n, value in enumerate(values):
            total[n] += value
    return {key: Figures(**dict(zip(FIGURE_FIELDS, t, strict=True))) for key, t in totals.items()}


class _Snapshot:
    """The snapshot of a closed cycle, read once, answering what the live queries answer."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.start_date = date.fromisoformat(data["cycle"]["start_date"])
        self.end_date = date.fromisoformat(data["cycle"]["end_date"])
        self.regions = [(r["id"], r["code"], r["name"]) for r in _records(data["regions"])]
        self.provinces = [
            (p["id"], p["abbreviation"], p["name"]) for p in _records(data["provinces"])
        ]
        self.comuni = [_SnapshotComune(**c) for c in _records(data["comuni"])]  # by name
        self.by_comune = {
            r["comune_id"]: tuple(r[f] for f in FIGURE_FIELDS) for r in _records(data["by_comune"])
        }
        self.by_comune_course = [
            (r["comune_id"], r["course_id"], tuple(r[f] for f in FIGURE_FIELDS))
            for r in _records(data["by_comune_course"])
        ]
        self.month_rows = [
            (r["comune_id"], r["year"], r["month"], r["completions"])
            for r in _records(data["completions_by_month"])
        ]
        self.courses = [
            (c["id"], c["slug"], c["title"], c["published"]) for c in _records(data["courses"])
        ]

    def _selected(
        self, scope: Scope, region_id: int | None = None, province_id: int | None = None
    ) -> list[_SnapshotComune]:
        """The comuni of ``scope`` (and of the drill-down filter), in name order."""
        return [
            c
            for c in self.comuni
            if scope.includes(c)  # type: ignore[arg-type]  # the same id and region_id
            and (region_id is None or c.region_id == region_id)
            and (province_id is None or c.province_id == province_id)
        ]

    def figures(
        self,
        scope: Scope,
        group_by: GroupBy | None,
        *,
        region_id: int | None = None,
        province_id: int | None = None,
    ) -> dict[int, Figures]:
        comuni = {c.id: c for c in self._selected(scope, region_id, province_id)}
        if group_by == "course":
            return _sum(
                (course_id, values)
                for comune_id, course_id, values in self.by_comune_course
                if comune_id in comuni
            )
        group = {
            None: lambda c: 0,
            "region": lambda c: c.region_id,
            "province": lambda c: c.province_id,
            "comune": lambda c: c.id,
        }[group_by]
        return _sum(
            (group(comuni[comune_id]), values)
            for comune_id, values in self.by_comune.items()
            if comune_id in comuni
        )

    def groups(
        self,
        scope: Scope,
        group_by: GroupBy,
        *,
        region_id: int | None,
        province_id: int | None,
        only: dict[int, Figures],
    ) -> list[tuple[int, str, str, int | None]]:
        """What ``_groups`` lists, from the snapshot, in the same order."""
        if group_by == "course":
            return [
                (i, slug, title, None)
                for i, slug, title, shown in self.courses
                if shown or i in only
            ]
        if group_by == "region":
            present = {c.region_id for c in self._selected(scope)}
            return [(i, code, name, None) for i, code, name in self.regions if i in present]
        if group_by == "province":
            present = {c.province_id for c in self._selected(scope, region_id)}
            return [(i, abbr, name, None) for i, abbr, name in self.provinces if i in present]
        return [
            (c.id, c.istat_code, c.name, c.population)
            for c in self._selected(scope, region_id, province_id)
            if c.id in only
        ]

    def months(self, scope: Scope) -> dict[tuple[int, int], int]:
        comuni = {c.id for c in self._selected(scope)}
        counts: dict[tuple[int, int], int] = {}
        for comune_id, year, month, completions in self.month_rows:
            if comune_id in comuni:
                counts[(year, month)] = counts.get((year, month), 0) + completions
        return counts

    def _enrolled_and_completions(self, comune_id: int) -> tuple[int, int]:
        values = self.by_comune.get(comune_id)
        if values is None:
            return 0, 0
        return values[FIGURE_FIELDS.index("enrolled")], values[FIGURE_FIELDS.index("completions")]

    def coverage(self, scope: Scope, *, region_id: int | None, province_id: int | None) -> Coverage:
        eligible = reached = completed = 0
        for comune in self._selected(scope, region_id, province_id):
            if comune.eligible:
                enrolled, completions = self._enrolled_and_completions(comune.id)
                eligible += 1
                reached += enrolled > 0
                completed += completions > 0
        return Coverage(eligible, reached, completed)

    def unreached_ids(
        self, scope: Scope, *, region_id: int | None, province_id: int | None
    ) -> list[int]:
        return [
            c.id
            for c in self._selected(scope, region_id, province_id)
            if c.eligible and self._enrolled_and_completions(c.id)[0] == 0
        ]


# Snapshots never change once written: each is parsed once per process and kept, keyed by
# database, id and creation time.
_SNAPSHOTS: OrderedDict[tuple[str, int, str], _Snapshot] = OrderedDict()
_SNAPSHOTS_LOCK = threading.Lock()
_SNAPSHOTS_KEPT = 8


def _snapshot_source(cycle: Cycle) -> _Snapshot | None:
    """The snapshot to serve ``cycle``'s reports from, or None for live figures (an open
    cycle, or a cycle closed outside the application without a snapshot)."""
    if cycle.closed_at is None:
        return None
    row = db.session.execute(
        select(CycleSnapshot.id, CycleSnapshot.created_at, CycleSnapshot.format_version).where(
            CycleSnapshot.cycle_id == cycle.id
        )
    ).first()
    if row is None:
        return None
    if row.format_version != SNAPSHOT_FORMAT:
        raise ServiceError(
            _l(
                "I dati congelati del ciclo %(code)s sono in un formato (%(version)s) che "
                "questa versione di LGNetforma non conosce.",
                code=cycle.code,
                version=row.format_version,
            )
        )
    key = (
        db.session.get_bind().url.render_as_string(hide_password=True),
        row.id,
        row.created_at.isoformat(),
    )
    with _SNAPSHOTS_LOCK:
        if key in _SNAPSHOTS:
            _SNAPSHOTS.move_to_end(key)
            return _SNAPSHOTS[key]
    snapshot = _Snapshot(
        db.session.scalar(select(CycleSnapshot.data).where(CycleSnapshot.id == row.id))
    )
    with _SNAPSHOTS_LOCK:
        _SNAPSHOTS[key] = snapshot
        while len(_SNAPSHOTS) > _SNAPSHOTS_KEPT:
            _SNAPSHOTS.popitem(last=False)
    return snapshot
