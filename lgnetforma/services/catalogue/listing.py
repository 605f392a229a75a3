"""Reading the catalogue: published courses of a cycle, their modules, their media."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from lgnetforma.extensions import db
from lgnetforma.models import Course, CourseVersion, Cycle, MediaFile, Module, ModuleVersion


@dataclass(frozen=True)
class CatalogueEntry:
    course: Course
    version: CourseVersion
    modules: int
    minutes: int


def catalogue(cycle: Cycle, *, include_drafts: bool = False) -> list[CatalogueEntry]:
    """The courses of ``cycle`` with their module count and total duration (one query)."""
    module_stats = (
        select(
            Module.course_id,
            func.count(Module.id).label("modules"),
            func.coalesce(func.sum(ModuleVersion.duration), 0).label("minutes"),
        )
        .join(ModuleVersion, ModuleVersion.id == Module.current_version_id)
        .where(Module.retired_at.is_(None))
        .group_by(Module.course_id)
        .subquery()
    )
    query = (
        select(Course, CourseVersion, module_stats.c.modules, module_stats.c.minutes)
        .join(CourseVersion, CourseVersion.id == Course.current_version_id)
        .outerjoin(module_stats, module_stats.c.course_id == Course.id)
        .where(Course.cycle_id == cycle.id)
        .order_by(CourseVersion.area, CourseVersion.title)
    )
    if not include_drafts:
        query = query.where(Course.is_published.is_(True))
    return [
        CatalogueEntry(course, version, modules or 0, minutes or 0)
        for course, version, modules, minutes in db.session.execute(query)
    ]


def course_by_slug(slug: str) -> Course | None:
    return db.session.scalar(
        select(Course).options(joinedload(Course.current_version)).where(Course.slug == slug)
    )


def active_modules(course: Course) -> list[Module]:
    """The modules in the catalogue, in order, with their current version loaded."""
    return list(
        db.session.scalars(
            select(Module)
            .options(joinedload(Module.current_version))
            .where(
                Module.course_id == course.id,
                Module.retired_at.is_(None),
                Module.current_version_id.is_not(None),
            )
            .order_by(Module.position, Module.id)
        )
    )


def media_file(course: Course, path: str) -> MediaFile | None:
    return db.session.scalar(
        select(MediaFile).where(MediaFile.course_id == course.id, MediaFile.path == path)
    )
