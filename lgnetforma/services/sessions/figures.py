"""The coordinators' figures of live sessions (held, registrations, attendance, hours), from
the facts a closed cycle's snapshot also keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from lgnetforma.extensions import db
from lgnetforma.models import (
    Comune,
    Cycle,
    LiveSession,
    Region,
    RegistrationStatus,
    SessionRegistration,
    utcnow,
)
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.sessions.rules import rome

# --- figures ---------------------------------------------------------------------------

FIGURES = ("registrations", "waiting", "attended", "hours_credited")


@dataclass(frozen=True)
class SessionRow:
    id: int
    title: str
    kind: str
    starts_at: datetime
    territory: str
    cancelled: bool
    registrations: int
    waiting: int
    attended: int
    hours_credited: float

    def held(self, now: datetime) -> bool:
        return not self.cancelled and self.starts_at <= now

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "starts_at": self.starts_at.isoformat(),
            "territory": self.territory,
            "cancelled": self.cancelled,
            "registrations": self.registrations,
            "waiting": self.waiting,
            "attended": self.attended,
            "hours_credited": self.hours_credited,
        }


@dataclass(frozen=True)
class SessionFigures:
    sessions: int
    sessions_held: int
    registrations: int
    attended: int
    attendance_rate: float | None
    hours_credited: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "sessions_held": self.sessions_held,
            "registrations": self.registrations,
            "attended": self.attended,
            "attendance_rate": self.attendance_rate,
            "hours_credited": self.hours_credited,
        }


@dataclass(frozen=True)
class RegionFigures:
    code: str
    name: str
    figures: SessionFigures

    def as_dict(self) -> dict[str, Any]:
        return {"region": self.code, "name": self.name, **self.figures.as_dict()}


@dataclass(frozen=True)
class SessionReport:
    summary: SessionFigures
    rows: list[SessionRow]
    regions: list[RegionFigures]


def _territory_label(region: str | None, comune: str | None) -> str:
    if comune:
        return comune
    if region:
        return region
    return str(_l("Nazionale"))


def session_facts(cycle: Cycle) -> dict[str, Any]:
    """Every session of ``cycle`` and, per session and comune, the counts: what the
    figures are computed from, and what a cycle's snapshot keeps."""

    sessions = db.session.execute(
        select(
            LiveSession.id,
            LiveSession.title,
            LiveSession.kind,
            LiveSession.starts_at,
            LiveSession.region_id,
            LiveSession.comune_id,
            Region.name,
            Comune.name,
            LiveSession.cancelled_at.is_not(None),
        )
        .outerjoin(Region, Region.id == LiveSession.region_id)
        .outerjoin(Comune, Comune.id == LiveSession.comune_id)
        .where(LiveSession.cycle_id == cycle.id)
        .order_by(LiveSession.starts_at, LiveSession.id)
    ).all()
    registered = SessionRegistration.status == RegistrationStatus.REGISTERED
    counts = db.session.execute(
        select(
            SessionRegistration.session_id,
            SessionRegistration.comune_id,
            func.count(SessionRegistration.id).filter(registered),
            func.count(SessionRegistration.id).filter(
                SessionRegistration.status == RegistrationStatus.WAITING
            ),
            func.count(SessionRegistration.id).filter(
                registered, SessionRegistration.credited_hours > 0
            ),
            func.coalesce(func.sum(SessionRegistration.credited_hours).filter(registered), 0),
        )
        .join(LiveSession, LiveSession.id == SessionRegistration.session_id)
        .where(LiveSession.cycle_id == cycle.id)
        .group_by(SessionRegistration.session_id, SessionRegistration.comune_id)
        .order_by(SessionRegistration.session_id, SessionRegistration.comune_id)
    ).all()
    return {
        "sessions": [
            [
                row[0],
                row[1],
                row[2],
                row[3].isoformat(),
                row[4],
                row[5],
                _territory_label(row[6], row[7]),
                bool(row[8]),
            ]
            for row in sessions
        ],
        "counts": [[*row[:5], float(row[5] or 0)] for row in counts],
        # The region of each comune counted: {comune id: [region code, region name]}.
        "regions": {
            str(comune_id): [code, name]
            for comune_id, code, name in db.session.execute(
                select(Comune.id, Region.code, Region.name)
                .join(Region, Region.id == Comune.region_id)
                .where(Comune.id.in_(sorted({row[1] for row in counts if row[1] is not None})))
            )
        },
    }


def session_figures(cycle: Cycle, scope: Scope, *, now: datetime | None = None) -> SessionReport:
    """The sessions of ``cycle`` whose territory overlaps ``scope``, each with the counts
    of the operators of the scope, the totals, and the same figures per region of the
    operators (a region counts the sessions its operators registered to). A closed cycle
    is read from its snapshot."""
    from lgnetforma.models import CycleSnapshot

    now = now or utcnow()
    facts = None
    if cycle.closed_at is not None:
        snapshot = db.session.scalar(
            select(CycleSnapshot).where(CycleSnapshot.cycle_id == cycle.id)
        )
        if snapshot is not None and "sessions" in snapshot.data:
            facts = snapshot.data["sessions"]
            now = min(now, cycle.closed_at)
    if facts is None:
        facts = session_facts(cycle)
    comuni_in_scope: set[int] | None = None
    region_of_scope: int | None = None
    if scope.kind != "national":
        comuni_in_scope = set(db.session.scalars(scope.comune_ids()))
        region_of_scope = scope.region_id
        if scope.kind == "comune":
            region_of_scope = db.session.scalar(
                select(Comune.region_id).where(Comune.id == scope.comune_id)
            )

    def overlaps(region_id: int | None, comune_id: int | None) -> bool:
        if comuni_in_scope is None:
            return True
        if comune_id is not None:
            return comune_id in comuni_in_scope
        if region_id is not None:
            return region_id == region_of_scope
        return True

    totals: dict[int, list[float]] = {}
    for session_id, comune_id, registrations, waiting, attended, hours in facts["counts"]:
        if comuni_in_scope is not None and comune_id not in comuni_in_scope:
            continue
        row = totals.setdefault(session_id, [0, 0, 0, 0.0])
        row[0] += registrations
        row[1] += waiting
        row[2] += attended
        row[3] += hours
    rows = []
    for session_id, title, kind, starts_at, region_id, comune_id, label, cancelled in facts[
        "sessions"
    ]:
        if not overlaps(region_id, comune_id):
            continue
        registrations, waiting, attended, hours = totals.get(session_id, [0, 0, 0, 0.0])
        rows.append(
            SessionRow(
                id=session_id,
                title=title,
                kind=kind,
                starts_at=datetime.fromisoformat(starts_at),
                territory=label,
                cancelled=cancelled,
                registrations=int(registrations),
                waiting=int(waiting),
                attended=int(attended),
                hours_credited=round(float(hours), 2),
            )
        )
    # Per region of the operators: the same figures over each region's registrations.
    listed = {row.id: row for row in rows}
    per_region: dict[tuple[str, str], dict[int, list[float]]] = {}
    for session_id, comune_id, registrations, waiting, attended, hours in facts["counts"]:
        if session_id not in listed or (
            comuni_in_scope is not None and comune_id not in comuni_in_scope
        ):
            continue
        code, name = facts.get("regions", {}).get(str(comune_id), ["", str(_l("Senza comune"))])
        counts = per_region.setdefault((code, name), {}).setdefault(session_id, [0, 0, 0, 0.0])
        for index, value in enumerate((registrations, waiting, attended, hours)):
            counts[index] += value
    regions = [
        RegionFigures(
            code,
            name,
            _summary(
                [
                    (listed[session_id].held(now), int(c[0]), int(c[2]), float(c[3]))
                    for session_id, c in by_session.items()
                ]
            ),
        )
        for (code, name), by_session in sorted(per_region.items())
    ]
    summary = _summary(
        [(row.held(now), row.registrations, row.attended, row.hours_credited) for row in rows]
    )
    return SessionReport(summary, rows, regions)


def _summary(sessions: list[tuple[bool, int, int, float]]) -> SessionFigures:
    """The figures of (held, registrations, attended, hours) per session: the attendance
    rate is over the sessions already held."""
    held = [s for s in sessions if s[0]]
    held_registrations = sum(s[1] for s in held)
    attended = sum(s[2] for s in held)
    return SessionFigures(
        sessions=len(sessions),
        sessions_held=len(held),
        registrations=sum(s[1] for s in sessions),
        attended=attended,
        attendance_rate=round(attended / held_registrations, 4) if held_registrations else None,
        hours_credited=round(sum(s[3] for s in sessions), 2),
    )


SESSION_EXPORT_COLUMNS = (
    "id",
    "titolo",
    "tipo",
    "inizio",
    "territorio",
    "annullato",
    "iscritti",
    "in_attesa",
    "presenti",
    "ore_riconosciute",
)


def export_rows(rows: list[SessionRow]) -> list[list[Any]]:
    return [
        [
            row.id,
            row.title,
            row.kind,
            rome(row.starts_at).replace(tzinfo=None),
            row.territory,
            row.cancelled,
            row.registrations,
            row.waiting,
            row.attended,
            row.hours_credited,
        ]
        for row in rows
    ]


REGION_EXPORT_COLUMNS = (
    "regione",
    "nome",
    "incontri",
    "incontri_svolti",
    "iscritti",
    "presenti",
    "tasso_di_presenza",
    "ore_riconosciute",
)


def region_export_rows(regions: list[RegionFigures]) -> list[list[Any]]:
    return [
        [
            region.code,
            region.name,
            region.figures.sessions,
            region.figures.sessions_held,
            region.figures.registrations,
            region.figures.attended,
            region.figures.attendance_rate,
            region.figures.hours_credited,
        ]
        for region in regions
    ]
