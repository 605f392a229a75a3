"""The attendance register of a session: minutes attended, and the hours credited at the
session's minimum attendance."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from lgnetforma.extensions import db
from lgnetforma.models import (
    LiveSession,
    RegistrationStatus,
    SessionRegistration,
    User,
    utcnow,
)
from lgnetforma.services.platform.cycles import ensure_cycle_open
from lgnetforma.services.platform.errors import ServiceError

# --- attendance ------------------------------------------------------------------------


def ensure_may_record(session: LiveSession) -> None:
    if session.is_cancelled:
        raise ServiceError(_l("L'incontro è stato annullato: non ci sono presenze da registrare."))
    if session.starts_at > utcnow():
        raise ServiceError(_l("Le presenze si registrano dall'inizio dell'incontro in poi."))
    ensure_cycle_open(session.cycle)


def attendance_outcome(session: LiveSession, minutes: int) -> tuple[float, float]:
    """(percentage of the session attended, hours credited) for ``minutes`` present."""
    percent = round(min(100.0, max(0, minutes) * 100 / session.minutes), 1)
    credited = session.hours if percent >= session.min_attendance else 0.0
    return percent, credited


def record_attendance(
    registration: SessionRegistration, minutes: int, source: str
) -> SessionRegistration:
    """Set one person's attendance (the caller checked ``ensure_may_record``)."""
    if registration.status != RegistrationStatus.REGISTERED:
        raise ServiceError(_l("Solo chi è iscritto può avere una presenza."))
    session = registration.session
    minutes = max(0, min(int(minutes), session.minutes))
    percent, credited = attendance_outcome(session, minutes)
    registration.attended_minutes = minutes
    registration.attendance_percent = percent
    registration.credited_hours = credited
    registration.attendance_source = source
    registration.attendance_recorded_at = utcnow()
    return registration


def registered_people(session: LiveSession, query: str = "") -> list[SessionRegistration]:
    """Those with a place, by name; ``query`` filters on name or email."""
    statement = (
        select(SessionRegistration)
        .join(User, User.id == SessionRegistration.user_id)
        .where(
            SessionRegistration.session_id == session.id,
            SessionRegistration.status == RegistrationStatus.REGISTERED,
        )
        .order_by(User.full_name, User.id)
    )
    query = (query or "").strip().lower()
    if query:
        from lgnetforma.database import LIKE_ESCAPE, like_pattern

        pattern = like_pattern(query, anywhere=True)
        statement = statement.where(
            or_(
                func.lower(User.full_name).like(pattern, escape=LIKE_ESCAPE),
                User.email.like(pattern, escape=LIKE_ESCAPE),
            )
        )
    return list(db.session.scalars(statement))


def waiting_people(session: LiveSession) -> list[SessionRegistration]:
    return list(
        db.session.scalars(
            select(SessionRegistration)
            .where(
                SessionRegistration.session_id == session.id,
                SessionRegistration.status == RegistrationStatus.WAITING,
            )
            .order_by(SessionRegistration.queued_at, SessionRegistration.id)
        )
    )
