"""Enrolment of an operator in a course of the open cycle, and the activity it records."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lgnetforma.extensions import db
from lgnetforma.models import (
    Course,
    Cycle,
    Enrolment,
    Role,
    User,
    utcnow,
)
from lgnetforma.services.platform.cycles import ensure_cycle_open
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.reporting import tallies

# --- enrolment -------------------------------------------------------------------------


def enrolment_for(user: User, course: Course, cycle: Cycle) -> Enrolment | None:
    return db.session.scalar(
        select(Enrolment).where(
            Enrolment.user_id == user.id,
            Enrolment.course_id == course.id,
            Enrolment.cycle_id == cycle.id,
        )
    )


def enrol(
    user: User, course: Course, cycle: Cycle, *, enrolled_by: User | None = None
) -> Enrolment:
    """Enrol an operator in a published course of ``cycle``; once per course and cycle."""
    if user.role != Role.OPERATOR:
        raise ServiceError(_l("Solo gli operatori si iscrivono ai corsi."))
    if not user.is_active_account or user.deleted_at is not None:
        raise ServiceError(_l("L'account non è attivo."))
    ensure_cycle_open(cycle)
    if course.cycle_id != cycle.id:
        raise ServiceError(_l("Il corso non appartiene al ciclo aperto."))
    if not course.is_published:
        raise ServiceError(_l("Il corso non è pubblicato."))
    if enrolment_for(user, course, cycle) is not None:
        raise ServiceError(_l("Iscrizione a questo corso già presente."))
    enrolment = Enrolment(
        user_id=user.id,
        course_id=course.id,
        cycle_id=cycle.id,
        enrolled_by_id=enrolled_by.id if enrolled_by else None,
    )
    db.session.add(enrolment)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a concurrent enrolment got there first
        db.session.rollback()
        raise ServiceError(_l("Iscrizione a questo corso già presente.")) from exc
    tallies.record_enrolments([enrolment])
    return enrolment


ACTIVITY_RESOLUTION = timedelta(hours=1)


def _activity_due(enrolment: Enrolment | None) -> bool:
    """Activity is recorded at most once an hour: "active in the last 30 days" needs no
    more, and a page view then writes nothing."""
    if enrolment is None:
        return False
    last = enrolment.last_activity_at
    return last is None or utcnow() - last > ACTIVITY_RESOLUTION


def _touch(enrolment: Enrolment | None) -> bool:
    """Record activity if due; True when it wrote."""
    if not _activity_due(enrolment):
        return False
    enrolment.last_activity_at = utcnow()  # type: ignore[union-attr]
    return True
