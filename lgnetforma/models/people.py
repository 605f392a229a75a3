"""Accounts: operators, trainers, coordinators and administrators."""

from __future__ import annotations

import enum
import time
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lgnetforma.extensions import db
from lgnetforma.models.base import UTCDateTime, utcnow
from lgnetforma.models.registry import Comune, Region


class Role(enum.StrEnum):
    OPERATOR = "operator"
    TRAINER = "trainer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(
            "role IN ('operator', 'trainer', 'coordinator', 'admin')", name="valid_role"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (trimmed, lower case), so uniqueness ignores case.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    # Italian fiscal code, checked (services.fiscal_code); set by a SPID/CIE login or link.
    # Shown in full only to its owner and to administrators.
    fiscal_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.OPERATOR, index=True)
    # Operators belong to a comune.
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"), index=True)
    # Coordinators: a region, a comune, or neither for national scope.
    scope_region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    scope_comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"))
    is_active_account: Mapped[bool] = mapped_column("is_active", Boolean, default=True)
    is_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on logout-everywhere, password change and deactivation: every session
    # and remember-me cookie carrying an older value stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    locale: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the person deleted their account: personal data is gone, the row stays
    # so that anonymous completion figures do not change.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    comune: Mapped[Comune | None] = relationship(foreign_keys=[comune_id])
    scope_region: Mapped[Region | None] = relationship(foreign_keys=[scope_region_id])
    scope_comune: Mapped[Comune | None] = relationship(foreign_keys=[scope_comune_id])

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return bool(self.is_active_account)

    def get_id(self) -> str:
        """What the session and the remember-me cookie hold: the account, its session
        version and the time of login (see ``security.load_user``)."""
        return f"{self.id}:{self.session_version}:{int(time.time())}"

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
