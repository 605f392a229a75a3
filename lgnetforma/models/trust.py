"""The records that must last: the audit trail and the snapshots of closed cycles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lgnetforma.extensions import db
from lgnetforma.models.base import UTCDateTime, utcnow


class AuditEvent(db.Model):
    """One security- or record-relevant event. Append-only: the application never updates
    or deletes a row, and database triggers refuse it (see migration 0004)."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(50), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(45))
    object_type: Mapped[str | None] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(64))
    # The territory the event concerns, so coordinators see the events of their scope.
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class CycleSnapshot(db.Model):
    """The figures of a closed cycle, frozen when it was closed; reports of a closed cycle
    are served from here and never change again."""

    __tablename__ = "cycle_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    format_version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
