"""Accounts found by fiscal code: SPID/CIE logins, first-time completion, linking."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Cycle, Role, User, utcnow
from lgnetforma.services.people.accounts import check_comune_eligible, check_email, user_by_email
from lgnetforma.services.people.fiscal_code import check_fiscal_code
from lgnetforma.services.people.identity import Identity
from lgnetforma.services.platform.errors import ServiceError


def user_by_fiscal_code(code: str) -> User | None:
    return db.session.scalar(select(User).where(User.fiscal_code == check_fiscal_code(code)))


def password_login_allowed(user: User) -> bool:
    """False for an operator when SPID_ONLY_FOR_OPERATORS is set and SPID/CIE is offered:
    operators then enter only with their digital identity; staff keep their passwords."""
    from flask import current_app

    from lgnetforma.services.people import identity

    return not (
        current_app.config.get("SPID_ONLY_FOR_OPERATORS")
        and user.role == Role.OPERATOR
        and identity.configured()
    )


def refresh_from_identity(user: User, identity: Identity) -> None:
    """The name as the IdP asserted it: what certificates issued from now on show."""
    if identity.full_name and user.full_name != identity.full_name[:200]:
        user.full_name = identity.full_name[:200]


def register_operator(*, identity: Identity, email: str, comune: Comune, cycle: Cycle) -> User:
    """An operator known by fiscal code, with no password: SPID/CIE is the way in."""
    email = check_email(email)
    check_comune_eligible(comune, cycle)
    if user_by_fiscal_code(identity.fiscal_code) is not None:
        raise ServiceError(_l("Esiste già un account con questo codice fiscale."))
    if user_by_email(email) is not None:
        raise ServiceError(
            _l(
                "Esiste già un account con questo indirizzo email: accedi con la password e "
                "collega SPID o CIE dalla pagina del profilo."
            ),
            field="email",
        )
    user = User(
        email=email,
        full_name=identity.full_name[:200],
        password_hash=None,
        role=Role.OPERATOR,
        comune=comune,
        fiscal_code=identity.fiscal_code,
        # The address the IdP asserted is taken as confirmed; another one is confirmed by mail.
        is_confirmed=email == (identity.email or "").strip().lower(),
        confirmed_at=utcnow() if email == (identity.email or "").strip().lower() else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def link(user: User, identity: Identity) -> None:
    """Tie an existing account to the person the IdP asserted."""
    other = user_by_fiscal_code(identity.fiscal_code)
    if other is not None and other.id != user.id:
        raise ServiceError(
            _l("Questo codice fiscale è già collegato a un altro account: scrivi all'assistenza.")
        )
    if user.fiscal_code and user.fiscal_code != identity.fiscal_code:
        raise ServiceError(
            _l(
                "Il codice fiscale dell'identità digitale non corrisponde a quello del tuo "
                "account: nessun collegamento è stato fatto."
            )
        )
    user.fiscal_code = identity.fiscal_code
    refresh_from_identity(user, identity)
