"""Courses and modules with every version kept.

A version stores its Markdown source and the HTML rendered from it once, so a page view
never re-parses Markdown. Attempts and completions point at the exact version seen.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from lgnetforma.extensions import db
from lgnetforma.models.base import UTCDateTime, utcnow
from lgnetforma.models.cycles import Cycle


class Course(db.Model):
    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    # The newest version. A plain column rather than a foreign key: the two tables point
    # at each other, and a cyclic constraint would need ALTER support SQLite lacks.
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    is_published: Mapped[bool] = mapped_column(default=False, index=True)
    # Editor draft of course.md, kept when it has errors so no typing is lost.
    draft_source: Mapped[str | None] = mapped_column(Text, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cycle: Mapped[Cycle] = relationship()
    current_version: Mapped[CourseVersion | None] = relationship(
        primaryjoin=lambda: foreign(Course.current_version_id) == CourseVersion.id,
        viewonly=True,
    )
    modules: Mapped[list[Module]] = relationship(
        back_populates="course", order_by=lambda: Module.position
    )

    @property
    def active_modules(self) -> list[Module]:
        return [m for m in self.modules if m.retired_at is None]

    def __repr__(self) -> str:
        return f"<Course {self.slug}>"


class CourseVersion(db.Model):
    __tablename__ = "course_version"
    __table_args__ = (UniqueConstraint("course_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text, deferred=True)  # only authoring reads it
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    hours: Mapped[float] = mapped_column(Float)
    area: Mapped[str | None] = mapped_column(String(200))
    pass_mark: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))
    description_html: Mapped[str] = mapped_column(Text, default="")
    #: Date of the last expert review of the contents (``reviewed`` in course.md).
    reviewed: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    course: Mapped[Course] = relationship(foreign_keys=[course_id])


class Module(db.Model):
    __tablename__ = "module"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    slug: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    draft_source: Mapped[str | None] = mapped_column(Text, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course] = relationship(back_populates="modules")
    current_version: Mapped[ModuleVersion | None] = relationship(
        primaryjoin=lambda: foreign(Module.current_version_id) == ModuleVersion.id,
        viewonly=True,
    )

    @property
    def filename(self) -> str:
        return f"{self.position:02d}-{self.slug}.md"

    def __repr__(self) -> str:
        return f"<Module {self.slug}>"


class ModuleVersion(db.Model):
    __tablename__ = "module_version"
    __table_args__ = (UniqueConstraint("module_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text, deferred=True)  # only authoring reads it
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    duration: Mapped[int] = mapped_column(Integer)
    objectives: Mapped[list[str]] = mapped_column(JSON, default=list)
    body_html: Mapped[str] = mapped_column(Text)
    toc_html: Mapped[str] = mapped_column(Text, default="")
    # The quiz with its correct answers: used for grading on the server, never sent.
    quiz: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    module: Mapped[Module] = relationship(foreign_keys=[module_id])


class MediaFile(db.Model):
    """An image or attachment from a course's media/ folder, kept in the database so
    that every app server sharing the database can serve it."""

    __tablename__ = "media_file"
    __table_args__ = (UniqueConstraint("course_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    path: Mapped[str] = mapped_column(String(300))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_hash: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
