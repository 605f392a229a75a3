"""Creating, moving and cancelling a live session; the people registered are told through
the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from lgnetforma.content.render import render_markdown
from lgnetforma.extensions import db
from lgnetforma.models import (
    Comune,
    Course,
    Cycle,
    LiveSession,
    Region,
    RegistrationStatus,
    Role,
    SessionKind,
    User,
    utcnow,
)
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.cycles import ensure_cycle_open
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.sessions.registration import _count, _lock, _notify, _people, _promote
from lgnetforma.services.sessions.rules import (
    DEFAULT_MIN_ATTENDANCE,
    KINDS,
    MAX_CAPACITY,
    MAX_DESCRIPTION,
    MAX_TITLE,
    ORGANISER_ROLES,
    _scope_covers,
    from_rome,
)

# --- creating, moving, cancelling ------------------------------------------------------


@dataclass
class SessionInput:
    """What an organiser types; times are Italian wall-clock times."""

    title: str = ""
    description: str = ""
    kind: str = SessionKind.WEBINAR
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    place: str = ""
    link: str = ""
    capacity: int | None = None
    region_code: str = ""  # "" for the whole country
    comune_code: str = ""  # an ISTAT code: the session is for that comune only
    course_slug: str = ""
    min_attendance: int | None = DEFAULT_MIN_ATTENDANCE
    hours: float | None = None  # default: the session's length


def _check(data: SessionInput, actor: User, now: datetime) -> dict[str, Any]:
    title = (data.title or "").strip()
    if not title:
        raise ServiceError(_l("Indica il titolo dell'incontro."), field="title")
    if len(title) > MAX_TITLE:
        raise ServiceError(
            _l("Il titolo può avere al massimo %(n)s caratteri.", n=MAX_TITLE), field="title"
        )
    description = data.description or ""
    if len(description) > MAX_DESCRIPTION:
        raise ServiceError(
            _l("La descrizione può avere al massimo %(n)s caratteri.", n=MAX_DESCRIPTION),
            field="description",
        )
    if data.kind not in KINDS:
        raise ServiceError(_l("Scegli il tipo di incontro."), field="kind")
    if data.starts_at is None:
        raise ServiceError(_l("Indica data e ora di inizio."), field="starts_at")
    if data.ends_at is None:
        raise ServiceError(_l("Indica data e ora di fine."), field="ends_at")
    starts, ends = from_rome(data.starts_at), from_rome(data.ends_at)
    if ends <= starts:
        raise ServiceError(_l("La fine deve seguire l'inizio."), field="ends_at")
    if ends - starts > timedelta(hours=12):
        raise ServiceError(
            _l("Un incontro dura al massimo 12 ore: per più giornate crea più incontri."),
            field="ends_at",
        )
    if starts <= now:
        raise ServiceError(_l("L'inizio deve essere nel futuro."), field="starts_at")
    place, link = (data.place or "").strip(), (data.link or "").strip()
    if data.kind in (SessionKind.IN_PERSON, SessionKind.HYBRID) and not place:
        raise ServiceError(_l("Indica il luogo dell'incontro in presenza."), field="place")
    if data.kind in (SessionKind.WEBINAR, SessionKind.HYBRID) and not link:
        raise ServiceError(_l("Indica il collegamento alla piattaforma video."), field="link")
    if link and not link.lower().startswith("https://"):
        raise ServiceError(_l("Il collegamento deve essere un indirizzo https://."), field="link")
    if len(place) > 300 or len(link) > 500:
        raise ServiceError(_l("Luogo o collegamento troppo lunghi."), field="place")
    capacity = data.capacity
    if capacity is None or not 1 <= capacity <= MAX_CAPACITY:
        raise ServiceError(
            _l(
                "I posti devono essere un numero tra 1 e %(n)s.",
                n=f"{MAX_CAPACITY:,}".replace(",", "."),
            ),
            field="capacity",
        )
    minimum = data.min_attendance if data.min_attendance is not None else DEFAULT_MIN_ATTENDANCE
    if not 1 <= minimum <= 100:
        raise ServiceError(
            _l("La presenza minima è una percentuale tra 1 e 100."), field="min_attendance"
        )
    length_hours = round((ends - starts).total_seconds() / 3600, 2)
    hours = data.hours if data.hours is not None else length_hours
    if not 0 < hours <= length_hours:
        raise ServiceError(
            _l(
                "Le ore riconosciute devono essere più di zero e al massimo la durata "
                "dell'incontro (%(h)s).",
                h=f"{length_hours:g}".replace(".", ","),
            ),
            field="hours",
        )
    region = comune = None
    if (data.comune_code or "").strip():
        comune = db.session.scalar(
            select(Comune).where(Comune.istat_code == data.comune_code.strip())
        )
        if comune is None:
            raise ServiceError(
                _l("Nessun comune con codice ISTAT %(c)s.", c=data.comune_code.strip()),
                field="comune_code",
            )
    elif (data.region_code or "").strip():
        region = db.session.scalar(select(Region).where(Region.code == data.region_code.strip()))
        if region is None:
            raise ServiceError(
                _l("Nessuna regione con codice %(c)s.", c=data.region_code.strip()),
                field="region_code",
            )
    course = None
    if (data.course_slug or "").strip():
        course = db.session.scalar(select(Course).where(Course.slug == data.course_slug.strip()))
        if course is None:
            raise ServiceError(_l("Nessun corso con questo codice."), field="course_slug")
    values = {
        "title": title,
        "description": description,
        "description_html": render_markdown(description).html if description.strip() else "",
        "kind": str(data.kind),
        "starts_at": starts,
        "ends_at": ends,
        "place": place,
        "link": link,
        "capacity": capacity,
        "region_id": region.id if region else None,
        "comune_id": comune.id if comune else None,
        "course_id": course.id if course else None,
        "min_attendance": minimum,
        "hours": hours,
    }
    # The territory must be one the actor may manage.
    if actor.role == Role.COORDINATOR and not _scope_covers(
        Scope.of(actor), values["region_id"], comune
    ):
        raise ServiceError(
            _l("Puoi creare incontri solo per il tuo ambito territoriale."),
            field="region_code" if not comune else "comune_code",
        )
    return values


def create_session(data: SessionInput, actor: User, cycle: Cycle) -> LiveSession:
    """A new session in ``cycle`` (the caller commits)."""
    if actor.role not in ORGANISER_ROLES:
        raise ServiceError(_l("Solo formatori e coordinatori organizzano incontri."))
    ensure_cycle_open(cycle)
    values = _check(data, actor, utcnow())
    session = LiveSession(
        uid=f"{uuid.uuid4()}@lgnetforma",
        organiser_id=actor.id,
        cycle_id=cycle.id,
        sequence=0,
        **values,
    )
    db.session.add(session)
    db.session.flush()
    return session


def update_session(session: LiveSession, data: SessionInput, actor: User) -> bool:
    """Change a session; returns whether it moved (date, time or place), in which case
    everyone registered or waiting is told. The caller commits."""
    session = _lock(session)  # against registrations taking places meanwhile
    if session.is_cancelled:
        raise ServiceError(_l("L'incontro è annullato e non si può più modificare."))
    ensure_cycle_open(session.cycle)
    values = _check(data, actor, utcnow())
    taken = _count(session, RegistrationStatus.REGISTERED)
    if values["capacity"] < taken:
        raise ServiceError(
            _l("Ci sono già %(n)s iscritti: i posti non possono essere meno.", n=taken),
            field="capacity",
        )
    moved = any(
        getattr(session, key) != values[key] for key in ("starts_at", "ends_at", "place", "link")
    )
    for key, value in values.items():
        setattr(session, key, value)
    if moved:
        session.sequence += 1
        session.reminder_sent_at = None
        for registration in _people(session):
            _notify(registration, "moved")
    db.session.flush()
    _promote(session)
    return moved


def cancel_session(session: LiveSession) -> int:
    """Cancel a session and tell everyone on its lists; returns how many were told."""
    session = _lock(session)
    if session.is_cancelled:
        raise ServiceError(_l("L'incontro è già annullato."))
    ensure_cycle_open(session.cycle)
    session.cancelled_at = utcnow()
    session.sequence += 1
    people = _people(session)
    for registration in people:
        _notify(registration, "cancelled")
    return len(people)
