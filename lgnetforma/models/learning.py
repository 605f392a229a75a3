"""What operators do: enrolments, module views, quiz attempts, completions, certificates.

Every record names the cycle it belongs to and the exact versions the operator saw, and
is never recomputed when content changes later.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lgnetforma.extensions import db
from lgnetforma.models.base import UTCDateTime, utcnow
from lgnetforma.models.catalogue import Course, CourseVersion, Module, ModuleVersion
from lgnetforma.models.cycles import Cycle
from lgnetforma.models.people import User


class Enrolment(db.Model):
    __tablename__ = "enrolment"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id", "cycle_id"),
        # "Active in the last 30 days" reads the recent enrolments of one cycle only.
        Index("ix_enrolment_cycle_activity", "cycle_id", "last_activity_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Last time the operator opened a module or submitted a quiz of this course.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    course: Mapped[Course] = relationship()
    cycle: Mapped[Cycle] = relationship()


class ModuleView(db.Model):
    """The first time an operator opened a module in a cycle."""

    __tablename__ = "module_view"
    __table_args__ = (UniqueConstraint("user_id", "module_id", "cycle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    module_version_id: Mapped[int] = mapped_column(ForeignKey("module_version.id"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuizAttempt(db.Model):
    __tablename__ = "quiz_attempt"
    __table_args__ = (UniqueConstraint("user_id", "module_id", "cycle_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What URLs carry: unguessable, so an attempt id cannot be tampered into another's.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    module_version_id: Mapped[int] = mapped_column(ForeignKey("module_version.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # {"question number": [option keys in the order shown]} when the quiz shuffles.
    option_order: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Per question: {"number": n, "correct": bool, "chosen": [...]}.
    results: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    score: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean, index=True)

    user: Mapped[User] = relationship()
    module: Mapped[Module] = relationship()
    module_version: Mapped[ModuleVersion] = relationship()
    cycle: Mapped[Cycle] = relationship()

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None


class AttemptGrant(db.Model):
    """More attempts at one quiz module for one operator in one cycle, granted by a
    coordinator or a trainer with a reason. ``request_key`` is the form's one-time key:
    the same grant submitted twice (a double click, two tabs) is stored once."""

    __tablename__ = "attempt_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    extra: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    module: Mapped[Module] = relationship()
    cycle: Mapped[Cycle] = relationship()
    granted_by: Mapped[User | None] = relationship(foreign_keys=[granted_by_id])


class ModuleCompletion(db.Model):
    __tablename__ = "module_completion"
    __table_args__ = (UniqueConstraint("user_id", "module_id", "cycle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    module_version_id: Mapped[int] = mapped_column(ForeignKey("module_version.id"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("quiz_attempt.id"))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CourseCompletion(db.Model):
    __tablename__ = "course_completion"
    __table_args__ = (UniqueConstraint("user_id", "course_id", "cycle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    course_version_id: Mapped[int] = mapped_column(ForeignKey("course_version.id"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    # The operator's comune when the course was completed: territorial figures stay put
    # even if the account later moves or is deleted.
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"), index=True)
    hours: Mapped[float] = mapped_column(Float)
    # The module version ids taken, in course order.
    module_versions: Mapped[list[int]] = mapped_column(JSON(none_as_null=True))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()
    course_version: Mapped[CourseVersion] = relationship()
    cycle: Mapped[Cycle] = relationship()

    @classmethod
    def of_enrolment(cls) -> ColumnElement[bool]:
        """The join condition from an enrolment to the completion of its course."""
        return and_(
            cls.user_id == Enrolment.user_id,
            cls.course_id == Enrolment.course_id,
            cls.cycle_id == Enrolment.cycle_id,
        )


class Certificate(db.Model):
    """The attestato of a course completion; its code is public and never changes."""

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    completion_id: Mapped[int] = mapped_column(ForeignKey("course_completion.id"), unique=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    comune_name: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(300))
    hours: Mapped[float] = mapped_column(Float)
    cycle_code: Mapped[str] = mapped_column(String(20))
    completed_on: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the holder deletes their account: the page then says it is no longer valid.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(Text)

    completion: Mapped[CourseCompletion] = relationship()
