"""Courses in the database: importing parsed courses as versions, exporting them back.

The parser (``lgnetforma.content``) turns files into a CourseDoc; this module stores it.
A version is created only for a course or module whose source text changed; a module
whose file disappeared is retired, never deleted, so attempts keep pointing at it.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from lgnetforma.content import CourseDoc, ModuleDoc, parse_courses_dir
from lgnetforma.content.model import ParseResult
from lgnetforma.extensions import db
from lgnetforma.models import (
    Course,
    CourseVersion,
    Cycle,
    MediaFile,
    Module,
    ModuleVersion,
    User,
    utcnow,
)
from lgnetforma.services.platform.errors import ServiceError

MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}


def content_hash(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def media_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


@dataclass
class ImportChanges:
    """What an import created or changed in one course, as lines for people."""

    slug: str
    created: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created)


def import_course(
    doc: CourseDoc, media: Mapping[str, bytes], *, actor: User | None = None
) -> ImportChanges:
    """Store ``doc`` (already validated) as new versions where its text changed.

    Runs in the caller's transaction: the caller commits, or rolls back on error.
    """
    changes = ImportChanges(doc.slug)
    cycle = db.session.scalar(select(Cycle).where(Cycle.code == doc.cycle))
    if cycle is None:
        raise ServiceError(
            _l("%(slug)s: il ciclo %(cycle)s non esiste.", slug=doc.slug, cycle=doc.cycle)
        )
    course = db.session.scalar(
        select(Course).options(selectinload(Course.modules)).where(Course.slug == doc.slug)
    )
    if course is None:
        course = Course(slug=doc.slug, cycle=cycle)
        db.session.add(course)
        db.session.flush()
        changes.created.append(f"nuovo corso {doc.slug}")
    course.cycle = cycle
    if _save_course_version(course, doc, actor):
        changes.created.append(f"{doc.slug}: versione {course.current_version.number} del corso")
    course.is_published = doc.status == "published"
    course.draft_source = None

    existing = {module.slug: module for module in course.modules}
    for module_doc in doc.modules:
        module = existing.pop(module_doc.slug, None)
        if module is None:
            module = Module(course=course, slug=module_doc.slug, position=module_doc.position)
            db.session.add(module)
            db.session.flush()
        module.position = module_doc.position
        if module.retired_at is not None:
            module.retired_at = None
            changes.created.append(f"{doc.slug}/{module.slug}: modulo ripristinato")
        version = save_module_version(module, module_doc, actor)
        if version is not None:
            changes.created.append(f"{doc.slug}/{module.slug}: versione {version.number}")
    for module in existing.values():
        if module.retired_at is None:
            module.retired_at = utcnow()
            changes.created.append(f"{doc.slug}/{module.slug}: modulo ritirato")

    for path, data in media.items():
        if _save_media(course, path, data):
            changes.created.append(f"{doc.slug}/{path}: file aggiornato")
    db.session.flush()
    return changes


def _save_course_version(course: Course, doc: CourseDoc, actor: User | None) -> bool:
    digest = content_hash(doc.source)
    current = course.current_version
    if current is not None and current.content_hash == digest:
        return False
    version = CourseVersion(
        course=course,
        number=_next_number(CourseVersion, CourseVersion.course_id, course.id),
        source=doc.source,
        content_hash=digest,
        title=doc.title,
        summary=doc.summary,
        hours=float(doc.hours),
        area=doc.area,
        pass_mark=doc.pass_mark,
        status=doc.status,
        description_html=doc.description_html,
        reviewed=doc.reviewed,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(version)
    db.session.flush()
    course.current_version_id = version.id
    db.session.expire(course, ["current_version"])
    return True


def save_course_version(
    course: Course, doc: CourseDoc, actor: User | None = None
) -> CourseVersion | None:
    """A new version of ``course`` when ``doc``'s source differs (its modules are ignored)."""
    return course.current_version if _save_course_version(course, doc, actor) else None


def save_module_version(
    module: Module, doc: ModuleDoc, actor: User | None = None
) -> ModuleVersion | None:
    """A new version of ``module`` when ``doc``'s source differs from the current one."""
    digest = content_hash(doc.source)
    current = module.current_version
    if current is not None and current.content_hash == digest:
        return None
    version = ModuleVersion(
        module=module,
        number=_next_number(ModuleVersion, ModuleVersion.module_id, module.id),
        source=doc.source,
        content_hash=digest,
        title=doc.title,
        duration=doc.duration,
        objectives=list(doc.objectives),
        body_html=doc.body_html,
        toc_html=doc.toc_html,
        quiz=doc.quiz.to_dict() if doc.quiz else None,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(version)
    db.session.flush()
    module.current_version_id = version.id
    module.draft_source = None
    db.session.expire(module, ["current_version"])
    return version


def _next_number(model: type, column, owner_id: int) -> int:  # noqa: ANN001
    return (db.session.scalar(select(func.max(model.number)).where(column == owner_id)) or 0) + 1


def _save_media(course: Course, path: str, data: bytes) -> bool:
    digest = content_hash(data)
    media = db.session.scalar(
        select(MediaFile).where(MediaFile.course_id == course.id, MediaFile.path == path)
    )
    if media is not None and media.content_hash == digest:
        return False
    if media is None:
        media = MediaFile(course_id=course.id, path=path)
        db.session.add(media)
    media.content = data
    media.content_hash = digest
    media.content_type = media_type(path)
    media.updated_at = utcnow()
    return True


# --- files <-> database ----------------------------------------------------------------


@dataclass
class DirectoryImport:
    """The outcome of importing a folder of courses."""

    results: list[ParseResult] = field(default_factory=list)
    changes: list[ImportChanges] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused


def read_media(course_dir: Path) -> dict[str, bytes]:
    """Every file under the course's media/ folder, by its path relative to the course."""
    media_dir = course_dir / "media"
    if not media_dir.is_dir():
        return {}
    return {
        path.relative_to(course_dir).as_posix(): path.read_bytes()
        for path in sorted(media_dir.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def import_directory(directory: Path, *, actor: User | None = None) -> DirectoryImport:
    """Import every course of ``directory``, each in its own transaction.

    A course with any error is refused whole and changes nothing; the others go in.
    """
    outcome = DirectoryImport(results=parse_courses_dir(directory))
    for result in outcome.results:
        if not result.ok or result.course is None:
            slug = result.problems[0].path if result.problems else str(directory)
            outcome.refused.append(slug)
            continue
        course_dir = directory / result.course.slug
        try:
            changes = import_course(result.course, read_media(course_dir), actor=actor)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        outcome.changes.append(changes)
    return outcome


def export_directory(directory: Path) -> list[Path]:
    """Write the current version of every course back as files; return what was written.

    Importing the export creates nothing: the files are the stored sources, byte for byte.
    """
    written: list[Path] = []
    courses = db.session.scalars(
        select(Course).options(selectinload(Course.modules)).order_by(Course.slug)
    )
    for course in courses:
        if course.current_version is None:
            continue
        course_dir = directory / course.slug
        course_dir.mkdir(parents=True, exist_ok=True)
        written.append(_write(course_dir / "course.md", course.current_version.source))
        for module in course.active_modules:
            if module.current_version is not None:
                written.append(_write(course_dir / module.filename, module.current_version.source))
        for media in db.session.scalars(select(MediaFile).where(MediaFile.course_id == course.id)):
            target = (course_dir / media.path).resolve()
            if course_dir.resolve() not in target.parents:
                continue  # a stored path never leaves the course folder
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(media.content)
            written.append(target)
    return written


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path
