"""Coverage of the eligible comuni: how many the plan has reached, and the list of those not
yet reached."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, case, func, select

from lgnetforma.extensions import db
from lgnetforma.models import (
    Comune,
    Cycle,
    Province,
    Region,
    ReportTally,
)
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.reporting.facts import Coverage, _territory_conditions
from lgnetforma.services.reporting.live import _live
from lgnetforma.services.reporting.snapshots import _snapshot_source

# --- coverage --------------------------------------------------------------------------


def _comuni_with(cycle: Cycle, counted: ColumnElement[int]) -> Select:
    """The comuni with at least one ``counted`` (a tally column) in the cycle."""
    return select(ReportTally.comune_id).where(ReportTally.cycle_id == cycle.id, counted > 0)


def coverage(
    cycle: Cycle,
    scope: Scope,
    *,
    region_id: int | None = None,
    province_id: int | None = None,
    comune_id: int | None = None,
) -> Coverage:
    """Of the eligible comuni in the selection: how many are reached, how many have a
    completion (of a closed cycle: eligibility and reach as they were when it was closed)."""
    where = {"region_id": region_id, "province_id": province_id, "comune_id": comune_id}
    snapshot = _snapshot_source(cycle)
    if snapshot is not None:
        return snapshot.coverage(scope, **where)
    conditions = [
        Comune.is_eligible(cycle.population_threshold),
        scope.comune_condition(),
        *_territory_conditions(**where),
    ]
    query = select(
        func.count(Comune.id),
        func.count(case((Comune.id.in_(_comuni_with(cycle, ReportTally.enrolments)), 1))),
        func.count(case((Comune.id.in_(_comuni_with(cycle, ReportTally.completions)), 1))),
    ).where(*conditions)

    def compute() -> Coverage:
        row = db.session.execute(query).one()
        return Coverage(int(row[0]), int(row[1]), int(row[2]))

    return _live(("coverage", cycle.id, scope, *where.values()), compute)


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
    comune_id: int | None = None,
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
        ids = snapshot.unreached_ids(
            scope, region_id=region_id, province_id=province_id, comune_id=comune_id
        )
        query = query.where(Comune.id.in_(ids))
    else:
        query = query.where(
            Comune.is_eligible(cycle.population_threshold),
            scope.comune_condition(),
            *_territory_conditions(region_id, province_id, comune_id),
            Comune.id.not_in(_comuni_with(cycle, ReportTally.enrolments)),
        )
    return query.order_by(*SORTS.get(sort, SORTS["population_desc"]))
