"""The training cycles and the eligibility rule that depends on them.

A cycle is opened with its dates and population threshold, becomes the current one, and is
eventually closed: closing stores its figures in a CycleSnapshot (see
``reporting.snapshots.snapshot_data``), from which every report of the cycle is served from then on,
and freezes its learning records (``ensure_cycle_open`` refuses any change).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Cycle, CycleSnapshot, User, utcnow
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.reporting.facts import SNAPSHOT_FORMAT
from lgnetforma.services.reporting.snapshots import snapshot_data

CODE_PATTERN = re.compile(r"^(\d{4})-(\d{4})$")
# The PostgreSQL advisory lock that orders closing a cycle against changes to its records:
# (namespace, cycle id). Writers take it shared, close_cycle takes it exclusive.
_LOCK_NAMESPACE = 20252026


class NoCurrentCycle(ServiceError):
    """No cycle is current: between the closing of one cycle and the opening of the next."""


class CycleClosed(ServiceError):
    """The cycle is closed: its learning records can no longer change."""


def current_cycle() -> Cycle:
    """The cycle that is open now; raises NoCurrentCycle between two cycles."""
    cycle = db.session.scalar(select(Cycle).where(Cycle.is_current.is_(True)))
    if cycle is None:
        raise NoCurrentCycle(
            _l(
                "Nessun ciclo formativo è aperto in questo momento: iscrizioni e corsi "
                "riprenderanno con l'apertura del prossimo ciclo."
            )
        )
    return cycle


def reporting_cycle() -> Cycle:
    """The cycle reports show by default: the current one or, between two cycles, the one
    closed last (else the latest)."""
    cycle = db.session.scalar(
        select(Cycle)
        .order_by(
            Cycle.is_current.desc(),
            Cycle.closed_at.is_(None),  # closed ones first
            Cycle.closed_at.desc(),
            Cycle.start_date.desc(),
        )
        .limit(1)
    )
    if cycle is None:
        return current_cycle()  # raises, with the message
    return cycle


def cycle_by_code(code: str) -> Cycle | None:
    return db.session.scalar(select(Cycle).where(Cycle.code == code))


def all_cycles() -> list[Cycle]:
    return list(db.session.scalars(select(Cycle).order_by(Cycle.start_date)))


def snapshots_by_cycle() -> dict[int, CycleSnapshot]:
    """The snapshot of each closed cycle, without its (large) data."""
    return {
        s.cycle_id: s
        for s in db.session.scalars(select(CycleSnapshot).options(defer(CycleSnapshot.data)))
    }


def eligible_condition(cycle: Cycle):  # noqa: ANN201 - a SQL expression
    """The SQL condition for a comune that is eligible in ``cycle``."""
    return Comune.is_eligible(cycle.population_threshold)


def count_eligible_comuni(cycle: Cycle) -> int:
    return db.session.scalar(select(func.count(Comune.id)).where(eligible_condition(cycle))) or 0


# --- closed cycles are frozen ----------------------------------------------------------


def _lock(cycle: Cycle, *, exclusive: bool) -> None:
    """On PostgreSQL, the transaction-level advisory lock of ``cycle``.

    Every change to a cycle's learning records holds it shared until its transaction
    ends; closing holds it exclusive. So closing waits for the changes in flight, and a
    change that waited for the closing then sees the cycle closed. SQLite serialises
    writers by itself.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    db.session.execute(
        text(f"SELECT {function}(CAST(:namespace AS integer), CAST(:cycle AS integer))"),
        {"namespace": _LOCK_NAMESPACE, "cycle": cycle.id},
    )


def cycle_is_open(cycle: Cycle) -> bool:
    """Whether the learning records of ``cycle`` may still change, checked against the
    database (the object in hand may predate a closing) under the cycle's shared lock."""
    if cycle.closed_at is not None:
        return False
    _lock(cycle, exclusive=False)
    return db.session.scalar(select(Cycle.closed_at).where(Cycle.id == cycle.id)) is None


def ensure_cycle_open(cycle: Cycle) -> None:
    """Refuse, with a message, any change to the learning records of a closed cycle."""
    if not cycle_is_open(cycle):
        raise CycleClosed(
            _l(
                "Il ciclo formativo %(code)s è chiuso: iscrizioni, questionari e "
                "completamenti non sono più possibili.",
                code=cycle.code,
            )
        )


# --- opening and closing ---------------------------------------------------------------


def close_cycle(cycle: Cycle, actor: User | None, *, now: datetime | None = None) -> CycleSnapshot:
    """Close ``cycle``: store its figures as a snapshot and freeze its records.

    Reports of the cycle are served from the snapshot from then on ("active in the last
    30 days" is measured at ``now``, the closing time). Closing the current cycle leaves no
    cycle current until the next one is opened. The caller commits.
    """

    if cycle.closed_at is not None:
        raise _already_closed(cycle)
    _lock(cycle, exclusive=True)
    db.session.refresh(cycle)
    if cycle.closed_at is not None:  # closed by someone else meanwhile
        raise _already_closed(cycle)
    now = now or utcnow()
    snapshot = CycleSnapshot(
        cycle_id=cycle.id,
        created_at=now,
        created_by_id=actor.id if actor is not None else None,
        format_version=SNAPSHOT_FORMAT,
        data=snapshot_data(cycle, now=now),
    )
    cycle.closed_at = now
    cycle.is_current = False
    try:
        with db.session.begin_nested():
            db.session.add(snapshot)
    except IntegrityError as exc:  # a concurrent closing got there first (SQLite)
        raise _already_closed(cycle) from exc
    return snapshot


def _already_closed(cycle: Cycle) -> ServiceError:
    when = cycle.closed_at.strftime("%d/%m/%Y %H:%M UTC") if cycle.closed_at else ""
    return ServiceError(
        _l("Il ciclo %(code)s è già chiuso (dal %(when)s).", code=cycle.code, when=when),
        field="code",
    )


def open_cycle(
    code: str, start: date, end: date, threshold: int, make_current: bool = False
) -> Cycle:
    """Open a new cycle; with ``make_current`` it becomes the current one. The caller commits.

    The code is YYYY-YYYY (the years of its first and last day), the dates are in order and
    do not overlap another cycle, the threshold is a whole number of inhabitants (≥ 0).
    """
    code = (code or "").strip()
    match = CODE_PATTERN.match(code)
    if match is None:
        raise ServiceError(
            _l("Il codice del ciclo deve avere la forma AAAA-AAAA, ad esempio 2027-2028."),
            field="code",
        )
    first, last = int(match.group(1)), int(match.group(2))
    if last <= first:
        raise ServiceError(
            _l(
                "Nel codice %(code)s il secondo anno deve seguire il primo, ad esempio 2027-2028.",
                code=code,
            ),
            field="code",
        )
    if cycle_by_code(code) is not None:
        raise ServiceError(_l("Esiste già un ciclo %(code)s.", code=code), field="code")
    if start is None:
        raise ServiceError(_l("Indica la data di inizio."), field="start_date")
    if end is None:
        raise ServiceError(_l("Indica la data di fine."), field="end_date")
    if end <= start:
        raise ServiceError(
            _l("La data di fine deve essere successiva alla data di inizio."), field="end_date"
        )
    if start.year != first:
        raise ServiceError(
            _l(
                "Il ciclo %(code)s deve iniziare nel %(year)s, come dice il suo codice.",
                code=code,
                year=first,
            ),
            field="start_date",
        )
    if end.year != last:
        raise ServiceError(
            _l(
                "Il ciclo %(code)s deve finire nel %(year)s, come dice il suo codice.",
                code=code,
                year=last,
            ),
            field="end_date",
        )
    overlapping = db.session.scalar(
        select(Cycle)
        .where(Cycle.start_date <= end, Cycle.end_date >= start)
        .order_by(Cycle.start_date)
        .limit(1)
    )
    if overlapping is not None:
        raise ServiceError(
            _l(
                "Le date si sovrappongono al ciclo %(other)s (dal %(start)s al %(end)s): "
                "i cicli non possono sovrapporsi.",
                other=overlapping.code,
                start=overlapping.start_date.strftime("%d/%m/%Y"),
                end=overlapping.end_date.strftime("%d/%m/%Y"),
            ),
            field="start_date",
        )
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ServiceError(
            _l("La soglia di popolazione deve essere un numero intero maggiore o uguale a zero."),
            field="threshold",
        )
    cycle = Cycle(
        code=code,
        start_date=start,
        end_date=end,
        population_threshold=threshold,
        is_current=False,
    )
    db.session.add(cycle)
    if make_current:
        for other in db.session.scalars(select(Cycle).where(Cycle.is_current.is_(True))):
            other.is_current = False
        db.session.flush()  # at most one current cycle at any moment
        cycle.is_current = True
    db.session.flush()
    return cycle
