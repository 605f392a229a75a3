"""Managing accounts: listing, roles, scopes and deactivation."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select

from lgnetforma.database import LIKE_ESCAPE, like_pattern
from lgnetforma.extensions import db
from lgnetforma.models import Comune, Region, Role, User
from lgnetforma.services.people.accounts import check_full_name
from lgnetforma.services.platform.errors import ServiceError


def user_query(*, text: str = "", role: str = "") -> Select:
    query = select(User).order_by(User.full_name, User.id)
    if role:
        query = query.where(User.role == role)
    if text:
        pattern = like_pattern(text.strip().lower())
        query = query.where(
            or_(
                func.lower(User.full_name).like(pattern, escape=LIKE_ESCAPE),
                User.email.like(pattern, escape=LIKE_ESCAPE),
            )
        )
    return query


def update_user(
    user: User,
    *,
    full_name: str,
    role: str,
    active: bool,
    scope_region: Region | None,
    scope_comune: Comune | None,
    acting_user: User,
) -> None:
    """Change what an admin may change; an admin cannot demote or deactivate themself."""
    if role not in set(Role):
        raise ServiceError(_l("Ruolo sconosciuto: %(role)s.", role=role), field="role")
    if user.id == acting_user.id and (role != user.role or not active):
        raise ServiceError(
            _l("Non puoi cambiare il tuo ruolo né disattivare il tuo account."), field="role"
        )
    if role == Role.OPERATOR and user.comune_id is None:
        raise ServiceError(
            _l("Questo account non ha un comune: non può diventare operatore."), field="role"
        )
    if role != Role.COORDINATOR:
        scope_region = scope_comune = None
    if scope_region is not None and scope_comune is not None:
        raise ServiceError(
            _l("L'ambito è una regione oppure un comune, non entrambi."), field="scope_comune"
        )
    full_name = check_full_name(full_name)
    if user.role != role or user.is_active_account != active:
        user.session_version += 1  # new powers or none: start from a fresh session
    user.full_name = full_name
    user.role = role
    user.is_active_account = active
    user.scope_region = scope_region
    user.scope_comune = scope_comune


def regions() -> list[Region]:
    return list(db.session.scalars(select(Region).order_by(Region.name)))
