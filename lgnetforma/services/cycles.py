"""The training cycles and the eligibility rule that depends on them."""

from __future__ import annotations

from sqlalchemy import func, select

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Cycle
from lgnetforma.services.errors import ServiceError


def current_cycle() -> Cycle:
    """The cycle that is open now; every installation has one after `db upgrade`."""
    cycle = db.session.scalar(select(Cycle).where(Cycle.is_current.is_(True)))
    if cycle is None:
        raise ServiceError("Nessun ciclo formativo corrente: esegui 'lgnetforma db upgrade'.")
    return cycle


def cycle_by_code(code: str) -> Cycle | None:
    return db.session.scalar(select(Cycle).where(Cycle.code == code))


def eligible_condition(cycle: Cycle):  # noqa: ANN201 - a SQL expression
    """The SQL condition for a comune that is eligible in ``cycle``."""
    return Comune.population > cycle.population_threshold


def count_eligible_comuni(cycle: Cycle) -> int:
    return db.session.scalar(select(func.count(Comune.id)).where(eligible_condition(cycle))) or 0
