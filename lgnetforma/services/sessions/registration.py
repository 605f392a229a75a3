"""Registering for a session, with a waiting list promoted first come, first served under a
lock on the session's row, and the calendar invitations and mail that go with it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from icalendar import Calendar, Event
from sqlalchemy import and_, func, or_, select

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
from lgnetforma.services.platform.links import absolute_url
from lgnetforma.services.platform.mail import queue_mail
from lgnetforma.services.sessions.rules import open_to, registration_of, rome

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
        user.email,
        str(_SUBJECTS[event] % {"title": session.title})[:300],
        body,
        kind=f"session.{event}",
        attachments=attachments,
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
