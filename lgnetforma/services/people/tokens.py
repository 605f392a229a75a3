"""Personal access tokens for the JSON API.

A token is ``lgf_`` followed by 43 random URL-safe characters (256 bits). Only its SHA-256
is stored, so a stolen database does not give access; the plaintext is shown once, when
the token is created, and never again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from lgnetforma.extensions import db
from lgnetforma.models import ApiToken, User, utcnow
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.platform.text import plain_text

TOKEN_PREFIX = "lgf_"  # noqa: S105 - a marker, not a secret
# What the profile shows to tell tokens apart: "lgf_" and 8 random characters.
SHOWN_PREFIX_LENGTH = 12
# A token is 4 + 43 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 100
MAX_NAME_LENGTH = 100
MAX_ACTIVE_TOKENS = 20
# last_used_at is written at most this often, so that a busy client does not turn every
# read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included (they stay listed)."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the plaintext, which is not stored."""
    name = plain_text(name, "name")
    if not name:
        raise ServiceError(_l("Dai un nome al token, ad esempio lo script che lo userà."), "name")
    if len(name) > MAX_NAME_LENGTH:
        raise ServiceError(_l("Al massimo %(n)d caratteri.", n=MAX_NAME_LENGTH), "name")
    if not user.is_active_account or user.deleted_at is not None:
        raise ServiceError(_l("L'account non è attivo."))
    active = db.session.scalar(
        select(func.count(ApiToken.id)).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)
        )
    )
    if (active or 0) >= MAX_ACTIVE_TOKENS:
        raise ServiceError(
            _l(
                "Hai già %(n)d token attivi: revocane uno che non usi più prima di crearne "
                "un altro.",
                n=MAX_ACTIVE_TOKENS,
            ),
            "name",
        )
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_digest(plaintext),
        prefix=plaintext[:SHOWN_PREFIX_LENGTH],
    )
    db.session.add(token)
    db.session.flush()
    return token, plaintext


def authenticate_token(plaintext: str | None) -> User | None:
    """The active user a token belongs to, or None (unknown, revoked, account closed).

    The lookup is by SHA-256, so how long a guess takes says nothing about how close it is.
    The caller commits: ``last_used_at`` is refreshed at most once a minute.
    """
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > MAX_TOKEN_LENGTH:
        return None
    digest = _digest(plaintext)
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None:
        return None
    user = token.user
    if user is None or not user.is_active_account or user.deleted_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return user


def revoke_token(token: ApiToken, user: User) -> bool:
    """Revoke one of ``user``'s own tokens; False when it was already revoked.

    Someone else's token is not found (LookupError), never revoked.
    """
    if token.user_id != user.id:
        raise LookupError(token.id)
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    db.session.flush()
    return True


def token_of(user: User, token_id: int) -> ApiToken | None:
    """One of ``user``'s tokens by id; None for an unknown id or someone else's token."""
    token = db.session.get(ApiToken, token_id)
    return token if token is not None and token.user_id == user.id else None


def normalise_prefix(prefix: str) -> str:
    """A prefix as typed ("lgf_AbC…", "AbC") in the form stored: "lgf_AbC"."""
    prefix = prefix.strip().rstrip("…").rstrip(".")
    return prefix if prefix.startswith(TOKEN_PREFIX) else TOKEN_PREFIX + prefix


def tokens_by_prefix(user: User, prefix: str) -> list[ApiToken]:
    """The user's active tokens whose beginning matches ``prefix`` (for the CLI).

    The stored prefix is compared first; a longer ``prefix`` (even the whole token) is
    matched against the stored prefix's length.
    """
    wanted = normalise_prefix(prefix)
    return [
        t
        for t in tokens_of(user)
        if t.revoked_at is None and (t.prefix.startswith(wanted) or wanted.startswith(t.prefix))
    ]
