"""SPID and CIE: the authentication requests sent to identity providers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lgnetforma.extensions import db
from lgnetforma.models.base import UTCDateTime, utcnow


class SamlRequest(db.Model):
    """One AuthnRequest sent to an IdP. Its answer must name it (InResponseTo), come from
    that IdP, arrive in time and only once: ``consumed_at`` is set by the first answer,
    and ``assertion_id`` (unique) refuses the same assertion a second time."""

    __tablename__ = "saml_request"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    idp_entity_id: Mapped[str] = mapped_column(String(500))
    level: Mapped[int] = mapped_column(Integer, default=2)
    # "login", or "link" when a signed-in person links SPID/CIE from the profile.
    purpose: Mapped[str] = mapped_column(String(10), default="login")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    next_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assertion_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    # From the accepted assertion: who logged in, for the IdP's single logout.
    name_id: Mapped[str | None] = mapped_column(String(200), index=True)
