"""The outbox and the worker's records.

Every mail is stored in the transaction of the event that causes it and leaves only through
``lgnetforma worker``; the scheduled jobs the worker runs leave one row each.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lgnetforma.extensions import db
from lgnetforma.models.base import UTCDateTime, utcnow


class MailStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboundMail(db.Model):
    __tablename__ = "outbound_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # What caused it (confirm, reset, invitation, reminder, ...), for the admins' filters.
    kind: Mapped[str] = mapped_column(String(30), default="", server_default="")
    # The language it was written in: the recipient's.
    locale: Mapped[str] = mapped_column(String(5), default="it", server_default="it")
    status: Mapped[str] = mapped_column(
        String(10), default=MailStatus.QUEUED, server_default=MailStatus.QUEUED
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Not before this time (the back-off after a failed try); None: at once.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Files sent with the message: [{"filename", "content_type", "content"}], the content
    # as text (an .ics invitation is text).
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))


class JobRun(db.Model):
    """One run of a scheduled job. (job, period) is unique, so when several workers wake
    up for the same slot only one of them runs it."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    summary: Mapped[str | None] = mapped_column(Text)


class ReminderSchedule(db.Model):
    """The automatic reminders an admin configured (one row, id 1)."""

    __tablename__ = "reminder_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # 0 Monday … 6 Sunday
    hour: Mapped[int] = mapped_column(Integer, default=9)  # Europe/Rome
    inactive_days: Mapped[int] = mapped_column(Integer, default=14)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class AuditPurgePermit(db.Model):
    """Written and deleted inside the purge's own transaction: the database triggers let
    an audit row be deleted only while a permit covering its time exists (migration 0006)."""

    __tablename__ = "audit_purge_permit"

    id: Mapped[int] = mapped_column(primary_key=True)
    before: Mapped[datetime] = mapped_column(UTCDateTime)
