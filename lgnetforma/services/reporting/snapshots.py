"""Closed cycles: their figures frozen in a snapshot at closing, and served from it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select

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
    Province,
    Region,
)
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.reporting.facts import (
    SNAPSHOT_FORMAT,
    Coverage,
    Figures,
    GroupBy,
    _active_since,
    _attempt_facts,
    _completion_facts,
    _enrolment_facts,
    completion_months,
)

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
            case((Comune.is_eligible(cycle.population_threshold), True), else_=False),
        ).order_by(Comune.name, Comune.istat_code)
    )
    courses = db.session.execute(
        select(Course.id, Course.slug, CourseVersion.title, Course.is_published)
        .join(CourseVersion, CourseVersion.id == Course.current_version_id)
        .where(Course.cycle_id == cycle.id)
        .order_by(CourseVersion.title, Course.slug)
    )
    months = sorted(
        (comune, course, year, month, count)
        for (_cycle, comune, course, year, month), count in completion_months(cycle.id).items()
    )

    def facts(by_course: bool) -> list[list[int]]:
        merged = _facts_by_comune(cycle, now, by_course=by_course)
        return [
            [*key, *(values[f] for f in FIGURE_FIELDS)] for key, values in sorted(merged.items())
        ]

    from lgnetforma.services.sessions.figures import session_facts  # (it reads reporting)

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
            ("comune_id", "course_id", "year", "month", "completions"), months
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
        # Snapshots taken before months were kept per course have no course_id: their
        # months count every course.
        self.month_rows = [
            (r["comune_id"], r.get("course_id"), r["year"], r["month"], r["completions"])
            for r in _records(data["completions_by_month"])
        ]
        self.courses = [
            (c["id"], c["slug"], c["title"], c["published"]) for c in _records(data["courses"])
        ]

    def _selected(
        self,
        scope: Scope,
        region_id: int | None = None,
        province_id: int | None = None,
        comune_id: int | None = None,
    ) -> list[_SnapshotComune]:
        """The comuni of ``scope`` (and of the drill-down filter), in name order."""
        return [
            c
            for c in self.comuni
            if scope.includes(c)  # type: ignore[arg-type]  # the same id and region_id
            and (region_id is None or c.region_id == region_id)
            and (province_id is None or c.province_id == province_id)
            and (comune_id is None or c.id == comune_id)
        ]

    def figures(
        self,
        scope: Scope,
        group_by: GroupBy | None,
        *,
        region_id: int | None = None,
        province_id: int | None = None,
        comune_id: int | None = None,
        course_id: int | None = None,
    ) -> dict[int, Figures]:
        comuni = {c.id: c for c in self._selected(scope, region_id, province_id, comune_id)}
        if group_by == "course":
            return _sum(
                (course, values)
                for comune, course, values in self.by_comune_course
                if comune in comuni and course_id in (None, course)
            )
        group = {
            None: lambda c: 0,
            "region": lambda c: c.region_id,
            "province": lambda c: c.province_id,
            "comune": lambda c: c.id,
        }[group_by]
        if course_id is not None:
            return _sum(
                (group(comuni[comune]), values)
                for comune, course, values in self.by_comune_course
                if comune in comuni and course == course_id
            )
        return _sum(
            (group(comuni[comune]), values)
            for comune, values in self.by_comune.items()
            if comune in comuni
        )

    def groups(
        self,
        scope: Scope,
        group_by: GroupBy,
        *,
        region_id: int | None,
        province_id: int | None,
        comune_id: int | None,
        course_id: int | None,
        only: dict[int, Figures],
    ) -> list[tuple[int, str, str, int | None]]:
        """What ``_groups`` lists, from the snapshot, in the same order."""
        if group_by == "course":
            return [
                (i, slug, title, None)
                for i, slug, title, shown in self.courses
                if (shown or i in only) and course_id in (None, i)
            ]
        selected = self._selected(scope, region_id, province_id, comune_id)
        if group_by == "region":
            present = {c.region_id for c in selected}
            return [(i, code, name, None) for i, code, name in self.regions if i in present]
        if group_by == "province":
            present = {c.province_id for c in selected}
            return [(i, abbr, name, None) for i, abbr, name in self.provinces if i in present]
        return [(c.id, c.istat_code, c.name, c.population) for c in selected if c.id in only]

    def months(
        self,
        scope: Scope,
        *,
        region_id: int | None = None,
        province_id: int | None = None,
        comune_id: int | None = None,
        course_id: int | None = None,
    ) -> dict[tuple[int, int], int]:
        comuni = {c.id for c in self._selected(scope, region_id, province_id, comune_id)}
        counts: dict[tuple[int, int], int] = {}
        for comune_id, course, year, month, completions in self.month_rows:
            if course_id is not None and course is not None and course != course_id:
                continue
            if comune_id in comuni:
                counts[(year, month)] = counts.get((year, month), 0) + completions
        return counts

    def _enrolled_and_completions(self, comune_id: int) -> tuple[int, int]:
        values = self.by_comune.get(comune_id)
        if values is None:
            return 0, 0
        return values[FIGURE_FIELDS.index("enrolled")], values[FIGURE_FIELDS.index("completions")]

    def coverage(
        self,
        scope: Scope,
        *,
        region_id: int | None,
        province_id: int | None,
        comune_id: int | None,
    ) -> Coverage:
        eligible = reached = completed = 0
        for comune in self._selected(scope, region_id, province_id, comune_id):
            if comune.eligible:
                enrolled, completions = self._enrolled_and_completions(comune.id)
                eligible += 1
                reached += enrolled > 0
                completed += completions > 0
        return Coverage(eligible, reached, completed)

    def unreached_ids(
        self,
        scope: Scope,
        *,
        region_id: int | None,
        province_id: int | None,
        comune_id: int | None,
    ) -> list[int]:
        return [
            c.id
            for c in self._selected(scope, region_id, province_id, comune_id)
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
