"""What a figure is (Figures, ReportRow) and the facts every figure is counted from: tallies,
enrolments, completions, attempts, activity, filtered by scope and selection.

Definitions:
- enrolled operators: distinct operators with at least one enrolment in the cycle;
- active operators: enrolled operators with activity (a module opened or a quiz submitted)
  in the last 30 days;
- completions: course completions recorded in the cycle;
- completion rate: completions / enrolments (each enrolment is one operator in one course).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, case, distinct, func, select

from lgnetforma.extensions import db
from lgnetforma.i18n import TIME_ZONE
from lgnetforma.models import (
    Comune,
    CourseCompletion,
    Cycle,
    Enrolment,
    Module,
    QuizAttempt,
    ReportTally,
    User,
    utcnow,
)
from lgnetforma.services.coordination.scope import Scope

T = TypeVar("T")
GroupBy = Literal["region", "province", "comune", "course"]
GROUP_BY: tuple[GroupBy, ...] = ("region", "province", "comune", "course")
# The layout of a closed cycle's frozen figures (CycleSnapshot.data).
SNAPSHOT_FORMAT = 1
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


def _territory_conditions(
    region_id: int | None, province_id: int | None, comune_id: int | None = None
) -> list[ColumnElement[bool]]:
    """The drill-down filter (see ``Selection.filters``) as conditions on Comune."""
    conditions = []
    if region_id is not None:
        conditions.append(Comune.region_id == region_id)
    if province_id is not None:
        conditions.append(Comune.province_id == province_id)
    if comune_id is not None:
        conditions.append(Comune.id == comune_id)
    return conditions


def _aggregate(
    query: Select,
    *,
    course_column: ColumnElement[Any],
    group_by: GroupBy | None,
    scope: Scope,
    region_id: int | None,
    province_id: int | None,
    comune_id: int | None,
    course_id: int | None,
) -> Select:
    """Add the scope, the drill-down filter and the grouping to a fact query on Comune."""
    query = query.where(
        scope.comune_condition(), *_territory_conditions(region_id, province_id, comune_id)
    )
    if course_id is not None:
        query = query.where(course_column == course_id)
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


def _tally_facts(cycle: Cycle, group_by: GroupBy | None, course_id: int | None) -> Select:
    """The counted figures of an open cycle, from the running tallies (a few thousand
    rows, whatever the number of attempts)."""
    # Within one course, each enrolment is a distinct operator.
    per_course = group_by == "course" or course_id is not None
    enrolled = ReportTally.enrolments if per_course else ReportTally.enrolled
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
    comune_id: int | None = None,
    course_id: int | None = None,
    now: datetime | None = None,
) -> dict[int, Figures]:
    """Two aggregate queries (the tallies, the recently active), merged by group."""
    common = {
        "group_by": group_by,
        "scope": scope,
        "region_id": region_id,
        "province_id": province_id,
        "comune_id": comune_id,
        "course_id": course_id,
    }
    queries = (
        _aggregate(
            _tally_facts(cycle, group_by, course_id), course_column=ReportTally.course_id, **common
        ),
        _aggregate(_active_facts(cycle, now), course_column=Enrolment.course_id, **common),
    )
    merged: dict[int, dict[str, int]] = {}
    for query in queries:
        for row in db.session.execute(query).mappings():
            values = {k: int(v or 0) for k, v in row.items() if k != "group_id"}
            if any(values.values()):
                merged.setdefault(row["group_id"], {}).update(values)
    return {group: Figures(**values) for group, values in merged.items()}


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


def rome_month(at: datetime) -> tuple[int, int]:
    """The calendar month (year, month) of a moment, in Europe/Rome: a course completed at
    00:30 on 1 March in Rome counts in March, whatever the server's or the database's zone."""
    local = at.astimezone(TIME_ZONE) if at.tzinfo else at.replace(tzinfo=UTC).astimezone(TIME_ZONE)
    return local.year, local.month


def completion_months(cycle_id: int | None = None) -> dict[tuple[int, int, int, int, int], int]:
    """Course completions per (cycle, comune, course, year, month), months in Rome: the one
    count behind the month tallies, their recount and the snapshots (the databases cannot all
    convert time zones, so the months are taken here, reading one small row per completion)."""
    query = select(
        CourseCompletion.cycle_id,
        CourseCompletion.comune_id,
        CourseCompletion.course_id,
        CourseCompletion.completed_at,
    ).where(CourseCompletion.comune_id.is_not(None))
    if cycle_id is not None:
        query = query.where(CourseCompletion.cycle_id == cycle_id)
    counts: dict[tuple[int, int, int, int, int], int] = {}
    for cycle, comune, course, at in db.session.execute(query.execution_options(yield_per=5000)):
        key = (cycle, comune, course, *rome_month(at))
        counts[key] = counts.get(key, 0) + 1
    return counts
