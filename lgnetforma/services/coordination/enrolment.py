"""Coordinators' actions on operators of their territory."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Certificate, Comune, Course, CourseCompletion, Cycle, Role, User
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.learning.enrolment import enrol
from lgnetforma.services.people.accounts import user_by_email
from lgnetforma.services.platform.errors import ServiceError


def enrol_operator(*, email: str, course: Course, cycle: Cycle, scope: Scope, actor: User) -> User:
    """Enrol a registered operator of the scope in a course."""
    user = user_by_email(email)
    if user is None or user.role != Role.OPERATOR or not scope.includes(user.comune):
        # The same answer for "unknown" and "outside your territory": no probing.
        raise ServiceError(
            _l("Nessun operatore con questa email nel tuo territorio."), field="email"
        )
    try:
        enrol(user, course, cycle, enrolled_by=actor)
    except ServiceError as error:
        raise ServiceError(
            _l("%(name)s: %(reason)s", name=user.full_name, reason=error.message),
            field="course",
        ) from error
    return user


def certificates_in_scope(scope: Scope, cycle: Cycle) -> list[Certificate]:
    """Valid certificates of completions in ``cycle`` whose comune is in ``scope``."""
    return list(
        db.session.scalars(
            select(Certificate)
            .join(CourseCompletion, CourseCompletion.id == Certificate.completion_id)
            .join(Comune, Comune.id == CourseCompletion.comune_id)
            .where(
                CourseCompletion.cycle_id == cycle.id,
                Certificate.revoked_at.is_(None),
                scope.comune_condition(),
            )
            .order_by(Certificate.id)
        )
    )
