"""Live sessions: times in Europe/Rome, and who may do what — register (``open_to``), see,
manage (``may_manage``): one home for each rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, false, or_, select, true

from lgnetforma.extensions import db
from lgnetforma.i18n import TIME_ZONE
from lgnetforma.models import (
    Comune,
    LiveSession,
    Role,
    SessionKind,
    SessionRegistration,
    User,
)
from lgnetforma.services.coordination.scope import Scope

ROME = TIME_ZONE  # the one definition of the platform's time zone (lgnetforma.i18n)
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


def registration_of(session: LiveSession, user: User) -> SessionRegistration | None:
    return db.session.scalar(
        select(SessionRegistration).where(
            SessionRegistration.session_id == session.id, SessionRegistration.user_id == user.id
        )
    )


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
