"""Live sessions (webinars, in-person and hybrid events), their registrations and
attendance, and the yearly training statements built from them and from courses."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lgnetforma.extensions import db
from lgnetforma.models.base import UTCDateTime, utcnow
from lgnetforma.models.catalogue import Course
from lgnetforma.models.cycles import Cycle
from lgnetforma.models.people import User
from lgnetforma.models.registry import Comune, Region


class SessionKind(enum.StrEnum):
    WEBINAR = "webinar"
    IN_PERSON = "in_person"
    HYBRID = "hybrid"


class RegistrationStatus(enum.StrEnum):
    REGISTERED = "registered"
    WAITING = "waiting"
    CANCELLED = "cancelled"


class LiveSession(db.Model):
    """A session open to the whole country (no region nor comune), a region or a comune."""

    __tablename__ = "live_session"
    __table_args__ = (
        CheckConstraint("kind IN ('webinar', 'in_person', 'hybrid')", name="valid_kind"),
        CheckConstraint("capacity >= 1", name="positive_capacity"),
        CheckConstraint("min_attendance BETWEEN 1 AND 100", name="valid_min_attendance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The UID of its calendar event: invitations of the same session update each other.
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(300), default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    capacity: Mapped[int] = mapped_column(Integer)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    # Percentage of the session's length a person must attend for the hours to count.
    min_attendance: Mapped[int] = mapped_column(Integer, default=75)
    hours: Mapped[float] = mapped_column(Float)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # The calendar SEQUENCE: one more at every move, so calendars replace the event.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    region: Mapped[Region | None] = relationship()
    comune: Mapped[Comune | None] = relationship()
    course: Mapped[Course | None] = relationship()
    cycle: Mapped[Cycle] = relationship()
    organiser: Mapped[User] = relationship()

    @property
    def minutes(self) -> int:
        return max(1, round((self.ends_at - self.starts_at).total_seconds() / 60))

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None


class SessionRegistration(db.Model):
    """One person's place (or place in the queue) at a session, and their attendance."""

    __tablename__ = "session_registration"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id"),
        CheckConstraint("status IN ('registered', 'waiting', 'cancelled')", name="valid_status"),
        Index("ix_session_registration_queue", "session_id", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_session.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # The person's comune when they registered: territorial figures stay put.
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    # First come, first served: the waiting list is ordered by this (then by id).
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Attendance: minutes present, their share of the session and the hours credited.
    attended_minutes: Mapped[int | None] = mapped_column(Integer)
    attendance_percent: Mapped[float | None] = mapped_column(Float)
    credited_hours: Mapped[float | None] = mapped_column(Float)
    attendance_source: Mapped[str | None] = mapped_column(String(20))
    attendance_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    session: Mapped[LiveSession] = relationship()
    user: Mapped[User] = relationship()


class TrainingStatement(db.Model):
    """A yearly statement of training hours as issued: frozen, verifiable by its code."""

    __tablename__ = "training_statement"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    holder_name: Mapped[str] = mapped_column(String(200))
    comune_name: Mapped[str] = mapped_column(String(200))
    total_hours: Mapped[float] = mapped_column(Float)
    goal_hours: Mapped[float] = mapped_column(Float)
    # [{"kind": "course"|"session", "title": ..., "date": "YYYY-MM-DD", "hours": n}, ...]
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
