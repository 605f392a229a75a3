"""The plan's figures, each computed by one function used by the dashboard, the exports and
the API alike, so that they can never disagree; a fixed number of queries whatever the rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from lgnetforma.extensions import db
from lgnetforma.models import (
    Comune,
    Course,
    CourseVersion,
    Cycle,
    Province,
    Region,
    ReportMonthTally,
)
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.reporting.facts import (
    Figures,
    GroupBy,
    ReportRow,
    _figures_by_group,
    _territory_conditions,
)
from lgnetforma.services.reporting.live import _live
from lgnetforma.services.reporting.snapshots import _snapshot_source

# --- the figures -----------------------------------------------------------------------


def summary(
    cycle: Cycle,
    scope: Scope,
    *,
    region_id: int | None = None,
    province_id: int | None = None,
    comune_id: int | None = None,
    course_id: int | None = None,
    now: datetime | None = None,
) -> Figures:
    """The headline figures of the scope, or of the drill-down selection within it (of a
    closed cycle: from its snapshot, "active" as measured when it was closed, whatever
    ``now``)."""
    where = {
        "region_id": region_id,
        "province_id": province_id,
        "comune_id": comune_id,
        "course_id": course_id,
    }
    snapshot = _snapshot_source(cycle)
    if snapshot is not None:
        return snapshot.figures(scope, None, **where).get(0, Figures())
    return _live(
        ("summary", cycle.id, scope, *where.values()),
        lambda: _figures_by_group(cycle, scope, None, now=now, **where).get(0, Figures()),
        now=now,
    )


def completion_report(
    cycle: Cycle,
    scope: Scope,
    group_by: GroupBy,
    *,
    region_id: int | None = None,
    province_id: int | None = None,
    comune_id: int | None = None,
    course_id: int | None = None,
    now: datetime | None = None,
) -> list[ReportRow]:
    """The figures by region, province, comune or course, of the drill-down selection.

    Every region, province, course in the selection is listed, with zeros where nothing
    happened; comuni are listed when they have any activity (there are thousands). A
    closed cycle is served from its snapshot, course titles as they were when it was
    closed.
    """
    where = {
        "region_id": region_id,
        "province_id": province_id,
        "comune_id": comune_id,
        "course_id": course_id,
    }
    snapshot = _snapshot_source(cycle)
    if snapshot is None:

        def compute() -> tuple[ReportRow, ...]:
            figures = _figures_by_group(cycle, scope, group_by, now=now, **where)
            return _rows(_groups(cycle, scope, group_by, only=figures, **where), figures)

        key = ("report", cycle.id, scope, group_by, *where.values())
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
    comune_id: int | None,
    course_id: int | None,
    only: dict[int, Figures],
) -> list[tuple[int, str, str, int | None]]:
    """The labels of the groups of the selection: one query."""
    if group_by == "course":
        query = (
            select(Course.id, Course.slug, CourseVersion.title, func.cast(None, db.Integer))
            .join(CourseVersion, CourseVersion.id == Course.current_version_id)
            .where(Course.cycle_id == cycle.id)
            .where((Course.is_published.is_(True)) | Course.id.in_(list(only) or [-1]))
            .order_by(CourseVersion.title, Course.slug)
        )
        if course_id is not None:
            query = query.where(Course.id == course_id)
        return [tuple(row) for row in db.session.execute(query)]
    selected = [scope.comune_condition(), *_territory_conditions(region_id, province_id, comune_id)]
    if group_by == "region":
        query = (
            select(Region.id, Region.code, Region.name, func.cast(None, db.Integer))
            .where(Region.id.in_(select(Comune.region_id).where(*selected)))
            .order_by(Region.code)
        )
    elif group_by == "province":
        query = (
            select(Province.id, Province.abbreviation, Province.name, func.cast(None, db.Integer))
            .where(Province.id.in_(select(Comune.province_id).where(*selected)))
            .order_by(Province.name, Province.code)
        )
    else:
        conditions = [*selected, Comune.id.in_(list(only) or [-1])]
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

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)


def completions_by_month(
    cycle: Cycle,
    scope: Scope,
    *,
    region_id: int | None = None,
    province_id: int | None = None,
    comune_id: int | None = None,
    course_id: int | None = None,
) -> list[MonthCount]:
    """Course completions per calendar month of the cycle (months in Europe/Rome), in the
    drill-down selection and, when one is chosen, of one course; every month listed."""
    where = {"region_id": region_id, "province_id": province_id, "comune_id": comune_id}
    snapshot = _snapshot_source(cycle)
    if snapshot is not None:
        counts = snapshot.months(scope, course_id=course_id, **where)
        first, last = snapshot.start_date, snapshot.end_date
    else:
        query = (
            select(
                ReportMonthTally.year,
                ReportMonthTally.month,
                func.sum(ReportMonthTally.completions),
            )
            .join(Comune, Comune.id == ReportMonthTally.comune_id)
            .where(
                ReportMonthTally.cycle_id == cycle.id,
                scope.comune_condition(),
                *_territory_conditions(**where),
                *([ReportMonthTally.course_id == course_id] if course_id is not None else []),
            )
            .group_by(ReportMonthTally.year, ReportMonthTally.month)
        )
        counts = _live(
            ("months", cycle.id, scope, course_id, *where.values()),
            lambda: {(int(y), int(m)): int(n) for y, m, n in db.session.execute(query)},
        )
        first, last = cycle.start_date, cycle.end_date
    months = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        months.append(MonthCount(y, m, counts.get((y, m), 0)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months
