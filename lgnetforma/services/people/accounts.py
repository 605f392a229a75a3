"""Accounts: registration, confirmation, passwords, staff creation."""

from __future__ import annotations

import hashlib
from functools import cache

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Cycle, Region, Role, User, utcnow
from lgnetforma.services.people.passwords import hash_password, password_problems, verify_password
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.platform.text import plain_text

MAX_NAME_LENGTH = 200  # User.full_name
MAX_EMAIL_LENGTH = 254  # RFC 5321
CONFIRM_SALT = "lgnetforma-confirm-email"
RESET_SALT = "lgnetforma-reset-password"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    """The address normalised, or ServiceError: the rule of every entry point."""
    email = normalise_email(email or "")
    if not email:
        raise ServiceError(_l("L'indirizzo email è obbligatorio."), field="email")
    if len(email) > MAX_EMAIL_LENGTH:
        raise ServiceError(_l("L'indirizzo email è troppo lungo."), field="email")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise ServiceError(
            _l("Inserisci un indirizzo email valido, ad esempio nome@comune.it."), field="email"
        ) from None
    return email


def check_full_name(full_name: str) -> str:
    """A person's name: one line of visible text, present, at most MAX_NAME_LENGTH."""
    name = " ".join(plain_text(full_name, "full_name").split())
    if not name:
        raise ServiceError(_l("Il nome è obbligatorio."), field="full_name")
    if len(name) > MAX_NAME_LENGTH:
        raise ServiceError(
            _l("Il nome è troppo lungo (al massimo %(max)s caratteri).", max=MAX_NAME_LENGTH),
            field="full_name",
        )
    return name


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def check_new_password(password: str, email: str) -> None:
    problems = password_problems(password, email)
    if problems:
        raise ServiceError(" ".join(problems), field="password")


def check_comune_eligible(comune: Comune, cycle: Cycle) -> None:
    if comune.population is None:
        raise ServiceError(
            _l(
                "%(name)s non può partecipare: la sua popolazione non è nota nel registro ISTAT.",
                name=comune.name,
            ),
            field="comune",
        )
    if not comune.is_eligible(cycle.population_threshold):
        raise ServiceError(
            _l(
                "%(name)s ha %(population)s abitanti: il ciclo %(cycle)s è riservato ai comuni "
                "con più di %(threshold)s abitanti.",
                name=comune.name,
                population=f"{comune.population:,}".replace(",", "."),
                cycle=cycle.code,
                threshold=f"{cycle.population_threshold:,}".replace(",", "."),
            ),
            field="comune",
        )


class EmailInUse(Exception):
    """A registration for an address that has an account. Not a ServiceError: the page
    must not tell (no account oracle); the owner is told by mail instead."""

    def __init__(self, owner: User) -> None:
        super().__init__("email in use")
        self.owner = owner


def register_operator(
    *,
    full_name: str,
    email: str,
    password: str,
    comune: Comune,
    cycle: Cycle,
    locale: str | None = None,
) -> User:
    """Create an unconfirmed operator of an eligible comune; raise EmailInUse, after the
    same work (the password is hashed either way), when the address has an account."""
    email = check_email(email)
    full_name = check_full_name(full_name)
    check_comune_eligible(comune, cycle)
    check_new_password(password, email)
    password_hash = hash_password(password)
    owner = user_by_email(email)
    if owner is not None:
        raise EmailInUse(owner)
    user = User(
        email=email,
        full_name=full_name.strip(),
        locale=locale,
        password_hash=password_hash,
        role=Role.OPERATOR,
        comune=comune,
        is_confirmed=False,
    )
    db.session.add(user)
    db.session.flush()
    return user


def create_user(
    *,
    email: str,
    full_name: str,
    role: str,
    password: str | None,
    comune: Comune | None = None,
    scope_region: Region | None = None,
    scope_comune: Comune | None = None,
    confirmed: bool = True,
) -> User:
    """Create any kind of account (CLI, admin pages, bulk enrolment)."""
    email = check_email(email)
    full_name = check_full_name(full_name)
    if role not in set(Role):
        raise ServiceError(_l("Ruolo sconosciuto: %(role)s.", role=role), field="role")
    if user_by_email(email) is not None:
        raise ServiceError(_l("Esiste già un account con questo indirizzo email."), field="email")
    if role == Role.OPERATOR and comune is None:
        raise ServiceError(_l("Un operatore deve appartenere a un comune."), field="comune")
    if role != Role.COORDINATOR and (scope_region or scope_comune):
        raise ServiceError(_l("Solo i coordinatori hanno un ambito territoriale."), field="scope")
    if scope_region is not None and scope_comune is not None:
        raise ServiceError(
            _l("L'ambito è una regione oppure un comune, non entrambi."), field="scope"
        )
    if password is not None:
        check_new_password(password, email)
    user = User(
        email=email,
        full_name=full_name.strip(),
        password_hash=hash_password(password) if password else None,
        role=role,
        comune=comune if role == Role.OPERATOR else None,
        scope_region=scope_region,
        scope_comune=scope_comune,
        is_confirmed=confirmed,
        confirmed_at=utcnow() if confirmed else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active, confirmed user with these credentials, or None.

    The password is checked even when the email is unknown so both take the same time.
    """
    user = user_by_email(email)
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    return user


@cache
def _dummy_hash() -> str:
    return hash_password("lgnetforma-timing-equaliser")


def change_password(user: User, new_password: str) -> None:
    check_new_password(new_password, user.email)
    user.password_hash = hash_password(new_password)
    user.session_version += 1  # every other session is logged out


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _password_fingerprint(user: User) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def confirmation_token(user: User) -> str:
    return _serializer(CONFIRM_SALT).dumps({"user": user.id, "email": user.email})


def confirm_email(token: str) -> User:
    """Confirm the account named by a valid, unexpired token."""
    max_age = current_app.config["EMAIL_TOKEN_MAX_AGE"]
    try:
        data = _serializer(CONFIRM_SALT).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ServiceError(
            _l("Il link di conferma è scaduto: accedi per riceverne uno nuovo.")
        ) from exc
    except BadSignature as exc:
        raise ServiceError(_l("Il link di conferma non è valido.")) from exc
    user = db.session.get(User, data.get("user"))
    if user is None or user.email != data.get("email"):
        raise ServiceError(_l("Il link di conferma non è valido."))
    if not user.is_confirmed:
        user.is_confirmed = True
        user.confirmed_at = utcnow()
    return user


def reset_token(user: User) -> str:
    """A reset token that stops working once the password has changed."""
    return _serializer(RESET_SALT).dumps({"user": user.id, "pw": _password_fingerprint(user)})


def user_for_reset_token(token: str) -> User:
    max_age = current_app.config["RESET_TOKEN_MAX_AGE"]
    try:
        data = _serializer(RESET_SALT).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ServiceError(
            _l("Il link per reimpostare la password è scaduto: chiedine uno nuovo.")
        ) from exc
    except BadSignature as exc:
        raise ServiceError(_l("Il link per reimpostare la password non è valido.")) from exc
    user = db.session.get(User, data.get("user"))
    if user is None or _password_fingerprint(user) != data.get("pw"):
        raise ServiceError(
            _l("Il link per reimpostare la password non è valido o è già stato usato.")
        )
    return user
