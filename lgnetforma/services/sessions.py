"""Live sessions: creating, moving and cancelling them, registering with a waiting list,
calendar invitations, attendance and the coordinators' figures.

Times are entered and shown in Europe/Rome and stored in UTC. Whoever may manage a
session (its organiser, an admin, a coordinator whose scope covers its territory) is
decided by ``may_manage``; who may register by ``open_to``: one home for each rule.

Registering and cancelling lock the session's row (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite serialises writers by itself), so the places taken never exceed the
capacity and the waiting list is promoted first come, first served.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import lazy_gettext as _l
from icalendar import Calendar, Event
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true

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
    SessionRegistration,
    User,
    utcnow,
)
from lgnetforma.services.cycles import ensure_cycle_open
from lgnetforma.services.errors import ServiceError
from lgnetforma.services.links import absolute_url
from lgnetforma.services.mail import queue_mail
from lgnetforma.services.scope import Scope

ROME = ZoneInfo("Europe/Rome")
DEFAULT_MIN_ATTENDANCE = 75
MAX_CAPACITY = 100_000
MAX_TITLE = 300
MAX_DESCRIPTION = 20_000
KINDS: dict[str, Any] = {
    SessionKind.WEBINAR: _l("Webinar"),
    SessionKind.IN_PERSON: _l("In presenza"),
    SessionKind.HYBRID: _l("Ibrido"),
}
ORGANISER_ROLES = (Role.TRAINER, Role.COORDINATOR, Role.ADMIN)


def rome(moment: datetime) -> datetime:
    """``moment`` in Italian local time."""
    return moment.astimezone(ROME)


def from_rome(local: datetime) -> datetime:
    """A wall-clock time typed in Italy, as an aware datetime."""
    return local.replace(tzinfo=ROME) if local.tzinfo is None else local


# --- who may do what -------------------------------------------------------------------


def _territory_condition_for_comune(comune: Comune) -> ColumnElement[bool]:
    """Sessions open to the operators of ``comune``."""
    return or_(
        and_(LiveSession.region_id.is_(None), LiveSession.comune_id.is_(None)),
        LiveSession.region_id == comune.region_id,
        LiveSession.comune_id == comune.id,
    )


def open_to(session: LiveSession, user: User) -> bool:
    """Whether ``user`` may register: an operator of a comune in the session's territory."""
    if user.role != Role.OPERATOR or user.comune is None or user.deleted_at is not None:
        return False
    if session.comune_id is not None:
        return session.comune_id == user.comune_id
    if session.region_id is not None:
        return session.region_id == user.comune.region_id
    return True


def _scope_covers(scope: Scope, region_id: int | None, comune: Comune | None) -> bool:
    """Whether a coordinator's scope contains a session's whole territory."""
    if scope.kind == "national":
        return True
    if comune is not None:
        return scope.includes(comune)
    if region_id is not None:
        return scope.kind == "region" and scope.region_id == region_id
    return False


def may_manage(session: LiveSession, user: User) -> bool:
    """The organiser, an admin, or a coordinator whose scope covers the territory."""
    if user.role == Role.ADMIN or session.organiser_id == user.id:
        return True
    if user.role == Role.COORDINATOR:
        return _scope_covers(Scope.of(user), session.region_id, session.comune)
    return False


def may_see(session: LiveSession, user: User) -> bool:
    """Those who may register or manage, and whoever is already on its lists."""
    if open_to(session, user) or may_manage(session, user):
        return True
    return registration_of(session, user) is not None


def managed_condition(user: User) -> ColumnElement[bool]:
    """A condition on LiveSession: the sessions ``user`` may manage."""
    if user.role == Role.ADMIN:
        return true()
    own = LiveSession.organiser_id == user.id
    if user.role != Role.COORDINATOR:
        return own
    scope = Scope.of(user)
    if scope.kind == "national":
        return true()
    if scope.kind == "region":
        return or_(
            own,
            LiveSession.region_id == scope.region_id,
            LiveSession.comune_id.in_(scope.comune_ids()),
        )
    return or_(own, LiveSession.comune_id == scope.comune_id)


def visible_condition(user: User) -> ColumnElement[bool]:
    """A condition on LiveSession: the sessions listed for ``user``."""
    if user.role == Role.OPERATOR:
        if user.comune is None:
            return false()
        return _territory_condition_for_comune(user.comune)
    return managed_condition(user)


def in_scope_condition(scope: Scope) -> ColumnElement[bool]:
    """Sessions whose territory overlaps ``scope``: national ones, the region's, and those
    of its comuni (the figures count only the operators of the scope)."""
    national = and_(LiveSession.region_id.is_(None), LiveSession.comune_id.is_(None))
    if scope.kind == "national":
        return true()
    if scope.kind == "region":
        return or_(
            national,
            LiveSession.region_id == scope.region_id,
            LiveSession.comune_id.in_(scope.comune_ids()),
        )
    region_id = select(Comune.region_id).where(Comune.id == scope.comune_id).scalar_subquery()
    return or_(
        national, LiveSession.region_id == region_id, LiveSession.comune_id == scope.comune_id
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


# --- registering -----------------------------------------------------------------------


def _lock(session: LiveSession) -> LiveSession:
    """The session's row, locked until the transaction ends, read afresh."""
    return db.session.scalars(
        select(LiveSession)
        .where(LiveSession.id == session.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _count(session: LiveSession, status: str) -> int:
    return (
        db.session.scalar(
            select(func.count(SessionRegistration.id)).where(
                SessionRegistration.session_id == session.id, SessionRegistration.status == status
            )
        )
        or 0
    )


def registration_of(session: LiveSession, user: User) -> SessionRegistration | None:
    return db.session.scalar(
        select(SessionRegistration).where(
            SessionRegistration.session_id == session.id, SessionRegistration.user_id == user.id
        )
    )


def waiting_position(registration: SessionRegistration) -> int:
    """1 for the first in the queue."""
    ahead = db.session.scalar(
        select(func.count(SessionRegistration.id)).where(
            SessionRegistration.session_id == registration.session_id,
            SessionRegistration.status == RegistrationStatus.WAITING,
            or_(
                SessionRegistration.queued_at < registration.queued_at,
                and_(
                    SessionRegistration.queued_at == registration.queued_at,
                    SessionRegistration.id < registration.id,
                ),
            ),
        )
    )
    return (ahead or 0) + 1


def places_left(session: LiveSession) -> int:
    return max(0, session.capacity - _count(session, RegistrationStatus.REGISTERED))


def register(session: LiveSession, user: User) -> SessionRegistration:
    """A place for ``user``, or a place in the waiting list when the session is full.

    Registering again while registered or waiting changes nothing. The caller commits.
    """
    session = _lock(session)
    if session.is_cancelled:
        raise ServiceError(_l("L'incontro è stato annullato."))
    if session.starts_at <= utcnow():
        raise ServiceError(_l("L'incontro è già iniziato: le iscrizioni sono chiuse."))
    if not open_to(session, user):
        raise ServiceError(_l("L'incontro è riservato agli operatori di un altro territorio."))
    ensure_cycle_open(session.cycle)
    registration = registration_of(session, user)
    if registration is not None and registration.status != RegistrationStatus.CANCELLED:
        return registration
    full = _count(session, RegistrationStatus.REGISTERED) >= session.capacity
    status = RegistrationStatus.WAITING if full else RegistrationStatus.REGISTERED
    if registration is None:
        registration = SessionRegistration(session_id=session.id, user_id=user.id)
        db.session.add(registration)
    registration.status = status
    registration.comune_id = user.comune_id
    registration.queued_at = utcnow()
    registration.cancelled_at = registration.promoted_at = None
    registration.session = session
    registration.user = user
    db.session.flush()
    _notify(registration, "registered" if status == RegistrationStatus.REGISTERED else "waiting")
    return registration


def cancel_registration(registration: SessionRegistration) -> SessionRegistration | None:
    """Give up a place (or a place in the queue); returns whoever was promoted."""
    session = _lock(registration.session)
    db.session.refresh(registration)
    if registration.status == RegistrationStatus.CANCELLED:
        return None
    if session.starts_at <= utcnow():
        raise ServiceError(_l("L'incontro è già iniziato: l'iscrizione non si può annullare."))
    ensure_cycle_open(session.cycle)
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = utcnow()
    db.session.flush()
    promoted = _promote(session)
    return promoted[0] if promoted else None


def _promote(session: LiveSession) -> list[SessionRegistration]:
    """Fill the free places from the waiting list, first come first served, and tell them."""
    if session.is_cancelled or session.starts_at <= utcnow():
        return []
    free = session.capacity - _count(session, RegistrationStatus.REGISTERED)
    if free <= 0:
        return []
    queue = db.session.scalars(
        select(SessionRegistration)
        .where(
            SessionRegistration.session_id == session.id,
            SessionRegistration.status == RegistrationStatus.WAITING,
        )
        .order_by(SessionRegistration.queued_at, SessionRegistration.id)
        .limit(free)
    ).all()
    for registration in queue:
        registration.status = RegistrationStatus.REGISTERED
        registration.promoted_at = utcnow()
        _notify(registration, "promoted")
    db.session.flush()
    return list(queue)


def _people(session: LiveSession) -> list[SessionRegistration]:
    return list(
        db.session.scalars(
            select(SessionRegistration)
            .where(
                SessionRegistration.session_id == session.id,
                SessionRegistration.status != RegistrationStatus.CANCELLED,
            )
            .order_by(SessionRegistration.id)
        )
    )


# --- invitations and mail --------------------------------------------------------------


def ics(session: LiveSession, *, with_access: bool = True) -> bytes:
    """The session as an iCalendar event in Europe/Rome (cancelled: METHOD:CANCEL).

    ``with_access``: include the place and link (only for people registered).
    """
    calendar = Calendar()
    calendar.add("prodid", "-//LGNetforma//Incontri//IT")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if session.is_cancelled else "PUBLISH")
    event = Event()
    event.add("uid", session.uid)
    event.add("sequence", session.sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", rome(session.starts_at))
    event.add("dtend", rome(session.ends_at))
    event.add("summary", session.title)
    event.add("status", "CANCELLED" if session.is_cancelled else "CONFIRMED")
    page = absolute_url("sessions.detail", session_id=session.id)
    event.add("url", page)
    description = [session.description.strip(), page]
    if with_access:
        location = ", ".join(x for x in (session.place, session.link) if x)
        if location:
            event.add("location", location)
        if session.link:
            description.insert(1, session.link)
    event.add("description", "\n\n".join(x for x in description if x))
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def ics_filename(session: LiveSession) -> str:
    return f"incontro-{session.id}.ics"


_SUBJECTS: dict[str, Any] = {
    "registered": _l("Iscrizione confermata: %(title)s"),
    "waiting": _l("In lista d'attesa: %(title)s"),
    "promoted": _l("Si è liberato un posto: sei iscritto a %(title)s"),
    "moved": _l("Incontro modificato: %(title)s"),
    "cancelled": _l("Incontro annullato: %(title)s"),
    "reminder": _l("Domani: %(title)s"),
}


def _notify(registration: SessionRegistration, event: str) -> None:
    """Queue the mail about ``event`` in the outbox, with the invitation when it helps."""
    session, user = registration.session, registration.user
    if user.deleted_at is not None:
        return
    registered = registration.status == RegistrationStatus.REGISTERED
    attachments = None
    if event == "cancelled" or registered:
        attachments = [
            {
                "filename": ics_filename(session),
                "content_type": "text/calendar; charset=utf-8",
                "content": ics(session, with_access=registered).decode("utf-8"),
            }
        ]
    body = render_template(
        "mail/session.txt",
        event=event,
        user=user,
        session=session,
        registration=registration,
        registered=registered,
        position=waiting_position(registration)
        if registration.status == RegistrationStatus.WAITING
        else None,
        starts=rome(session.starts_at),
        ends=rome(session.ends_at),
        link=absolute_url("sessions.detail", session_id=session.id),
    )
    queue_mail(
        user.email, str(_SUBJECTS[event] % {"title": session.title})[:300], body, attachments
    )


def send_reminders(now: datetime | None = None) -> int:
    """Queue the day-before reminder of the sessions starting in the next 24 hours, once
    per session; returns how many mails were queued. The caller commits."""
    now = now or utcnow()
    sessions = db.session.scalars(
        select(LiveSession)
        .where(
            LiveSession.cancelled_at.is_(None),
            LiveSession.reminder_sent_at.is_(None),
            LiveSession.starts_at > now,
            LiveSession.starts_at <= now + timedelta(hours=24),
        )
        .order_by(LiveSession.starts_at)
        .with_for_update(skip_locked=True)
    ).all()
    queued = 0
    for session in sessions:
        session.reminder_sent_at = now
        for registration in _people(session):
            if registration.status == RegistrationStatus.REGISTERED:
                _notify(registration, "reminder")
                queued += 1
    return queued


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
