"""The trainers' web editor: courses and modules created and changed as new versions.

Plain functions with explicit arguments, run in the caller's transaction. The caller
commits also when a save returns problems: the text with errors is then kept as the
draft (``draft_source``), so nothing typed is lost, while no version is created and
operators keep seeing the last valid one. A :class:`ServiceError` means bad input:
roll back.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, replace

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from lgnetforma.content import (
    DEFAULT_PASS_MARK,
    CourseDoc,
    CourseMeta,
    ModuleDoc,
    Preview,
    Problem,
    field_line,
    is_valid_slug,
    new_course_source,
    new_module_source,
    parse_course_meta,
    parse_module_text,
    preview_course_text,
    preview_module_text,
    set_course_status,
)
from lgnetforma.content.parse import COURSE_FILE, RESERVED_MODULE_SLUGS
from lgnetforma.content.render import MAX_SOURCE_CHARS, normalise_newlines
from lgnetforma.content.review import check_duration_sum
from lgnetforma.extensions import db
from lgnetforma.models import Course, CourseVersion, Cycle, MediaFile, Module, User, utcnow
from lgnetforma.services.catalogue.courses import (
    import_course,
    save_course_version,
    save_module_version,
)
from lgnetforma.services.platform.cycles import cycle_by_code
from lgnetforma.services.platform.errors import ServiceError

MAX_SLUG_LENGTH = 100
MAX_TITLE_LENGTH = 300
MAX_AREA_LENGTH = 200
MAX_HOURS = 1000
#: Longer sources are refused before parsing (a module is a few thousand words).
MAX_SOURCE_LENGTH = MAX_SOURCE_CHARS
DIRECTIONS = ("up", "down")


# --------------------------------------------------------------------------- helpers


def media_paths(course: Course) -> list[str]:
    """The course's media files (``media/ciclo.png``…), which links may point to."""
    return list(
        db.session.scalars(
            select(MediaFile.path).where(MediaFile.course_id == course.id).order_by(MediaFile.path)
        )
    )


def _pass_mark(course: Course) -> float:
    version = course.current_version
    return version.pass_mark if version is not None else DEFAULT_PASS_MARK


def _course_files(course: Course, module: Module | None) -> list[str]:
    return [COURSE_FILE, *(m.filename for m in course.modules if m is not module)]


def has_errors(problems: tuple[Problem, ...] | list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def _problem(path: str, line: int | None, message: str) -> Problem:
    return Problem(path, line or 1, message)


def _too_long(path: str, source: str) -> Problem | None:
    if len(source) <= MAX_SOURCE_LENGTH:
        return None
    return _problem(
        path,
        1,
        _("il testo è troppo lungo: al massimo %(max)s caratteri", max=MAX_SOURCE_LENGTH),
    )


def _length_problems(
    path: str, source: str, values: dict[str, tuple[str | None, int]]
) -> list[Problem]:
    """Fields longer than the database keeps, located at their front-matter line."""
    return [
        _problem(
            path,
            field_line(source, key),
            _(
                "il campo '%(key)s' è troppo lungo: al massimo %(max)s caratteri",
                key=key,
                max=limit,
            ),
        )
        for key, (value, limit) in values.items()
        if value is not None and len(value) > limit
    ]


def _as_stored(source: str, stored: str | None) -> str:
    """Editor text as it is kept: LF line ends, although browsers send CRLF; and when only
    the line ends differ from the stored text, the stored text itself (nothing changed)."""
    normalised = normalise_newlines(source)
    if stored is not None and normalise_newlines(stored) == normalised:
        return stored
    return normalised


def _course_doc(slug: str, meta: CourseMeta) -> CourseDoc:
    return CourseDoc(
        slug=slug,
        title=meta.title,
        summary=meta.summary,
        cycle=meta.cycle,
        hours=meta.hours,
        area=meta.area,
        pass_mark=meta.pass_mark,
        status=meta.status,
        source=meta.source,
        description_html=meta.description_html,
        modules=(),
        media=(),
        reviewed=meta.reviewed,
    )


def _check_slug(slug: str, what: str) -> None:
    if not slug or not is_valid_slug(slug) or len(slug) > MAX_SLUG_LENGTH:
        raise ServiceError(
            _l(
                "Slug non valido: usa solo lettere minuscole senza accenti, cifre e trattini "
                "(al massimo %(max)s caratteri), ad esempio %(example)s.",
                max=MAX_SLUG_LENGTH,
                example=what,
            ),
            field="slug",
        )


# --------------------------------------------------------------------------- courses


def create_course(
    slug: str,
    title: str,
    summary: str,
    hours: float | int,
    area: str | None,
    cycle: Cycle,
    actor: User | None,
) -> Course:
    """A new draft course with its first version, stored as the importer stores one."""
    slug = (slug or "").strip()
    _check_slug(slug, "lavoro-di-rete")
    if db.session.scalar(select(Course.id).where(Course.slug == slug)) is not None:
        raise ServiceError(
            _l("Esiste già un corso con lo slug «%(slug)s»: scegline un altro.", slug=slug),
            field="slug",
        )
    title = " ".join((title or "").split())
    if not title:
        raise ServiceError(_l("Il titolo è obbligatorio."), field="title")
    if len(title) > MAX_TITLE_LENGTH:
        raise ServiceError(
            _l("Il titolo è troppo lungo: al massimo %(max)s caratteri.", max=MAX_TITLE_LENGTH),
            field="title",
        )
    if area and len(area.strip()) > MAX_AREA_LENGTH:
        raise ServiceError(
            _l("L'area è troppo lunga: al massimo %(max)s caratteri.", max=MAX_AREA_LENGTH),
            field="area",
        )
    if not (0 < hours <= MAX_HOURS):
        raise ServiceError(
            _l("Indica le ore certificate con un numero positivo, ad esempio 6 o 1,5."),
            field="hours",
        )
    source = new_course_source(
        title=title, summary=summary or "", cycle=cycle.code, hours=hours, area=area
    )
    meta, problems = parse_course_meta(source, media=())
    if meta is None:
        raise ServiceError("; ".join(p.message for p in problems if p.severity == "error"))
    import_course(_course_doc(slug, meta), {}, actor=actor)
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    assert course is not None  # just stored
    return course


def _with(preview: Preview, extra: list[Problem]) -> Preview:
    """``preview`` with more problems; an extra error means no valid document."""
    if not extra:
        return preview
    problems = tuple(sorted((*preview.problems, *extra), key=lambda p: p.line))
    document = None if has_errors(extra) else preview.document
    return replace(preview, problems=problems, document=document)


def preview_course(course: Course, source: str, *, media_prefix: str = "media/") -> Preview:
    """``course.md`` rendered for the editor, with every problem and its line.

    ``document`` is the parsed :class:`CourseMeta` when the text can be saved.
    """
    too_long = _too_long(COURSE_FILE, source)
    if too_long is not None:
        return Preview("", "", (too_long,))
    preview = preview_course_text(source, media=media_paths(course), media_prefix=media_prefix)
    if not isinstance(preview.document, CourseMeta):
        return preview
    return _with(preview, _course_rule_problems(course, source, preview.document))


def _course_rule_problems(course: Course, source: str, meta: CourseMeta) -> list[Problem]:
    """What the platform adds to the format's rules: the cycle exists, lengths fit."""
    problems = _length_problems(
        COURSE_FILE,
        source,
        {"title": (meta.title, MAX_TITLE_LENGTH), "area": (meta.area, MAX_AREA_LENGTH)},
    )
    if cycle_by_code(meta.cycle) is None:
        problems.append(
            _problem(
                COURSE_FILE,
                field_line(source, "cycle"),
                _("il ciclo formativo %(cycle)s non esiste nella piattaforma", cycle=meta.cycle),
            )
        )
    # The validator refuses a course folder whose module durations do not add up to its
    # hours; here modules are saved one at a time, so the editor warns on course.md.
    durations = [
        m.current_version.duration for m in course.active_modules if m.current_version is not None
    ]
    if durations:
        check_duration_sum(
            float(meta.hours),
            durations,
            field_line(source, "hours") or 1,
            lambda line, message, severity, code: problems.append(
                Problem(COURSE_FILE, line, message, severity, code)
            ),
            "warning",
        )
    if meta.status == "published" and not course.active_modules:
        problems.append(
            _problem(
                COURSE_FILE,
                field_line(source, "status"),
                _("il corso non ha moduli: aggiungine almeno uno prima di pubblicarlo"),
            )
        )
    return problems


def _store_course_source(course: Course, source: str, actor: User | None) -> tuple[Problem, ...]:
    """Validate ``source``; when valid, a new version (if changed) and the published flag."""
    current = course.current_version
    source = _as_stored(source, current.source if current is not None else None)
    preview = preview_course(course, source)
    meta = preview.document
    if not isinstance(meta, CourseMeta):
        return preview.problems
    course.cycle = cycle_by_code(meta.cycle)
    save_course_version(course, _course_doc(course.slug, meta), actor)
    course.is_published = meta.status == "published"
    db.session.flush()
    return preview.problems


def save_course_source(course: Course, source: str, actor: User | None) -> tuple[Problem, ...]:
    """Save ``course.md``: a new version when valid and changed, else keep it as the draft."""
    problems = _store_course_source(course, source, actor)
    course.draft_source = normalise_newlines(source) if has_errors(problems) else None
    db.session.flush()
    return problems


def set_published(course: Course, published: bool, actor: User | None) -> None:
    """Publish or unpublish: a new version of ``course.md`` with its ``status`` changed."""
    current = course.current_version
    if current is None:
        raise ServiceError(_l("Il corso non ha ancora una versione salvata."))
    status = "published" if published else "draft"
    problems = _store_course_source(course, set_course_status(current.source, status), actor)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        details = "; ".join(p.message for p in errors)
        if published:
            raise ServiceError(_l("Il corso non può essere pubblicato: %(d)s.", d=details))
        raise ServiceError(_l("Il corso non può essere ritirato: %(d)s.", d=details))
    if course.draft_source is not None:
        # The draft follows, so that saving it later does not undo this; a draft without
        # a front matter stays as it is (its own errors say so).
        with suppress(ValueError):
            course.draft_source = set_course_status(course.draft_source, status)
    db.session.flush()


def discard_course_draft(course: Course) -> None:
    course.draft_source = None
    db.session.flush()


# --------------------------------------------------------------------------- modules


def _module_filename(position: int, slug: str) -> str:
    return Module(slug=slug, position=position).filename


def add_module(course: Course, slug: str, title: str, actor: User | None) -> Module:
    """A new module at the end of the course, with a first version from a template."""
    slug = (slug or "").strip()
    _check_slug(slug, "indicatori-di-risultato")
    if slug in RESERVED_MODULE_SLUGS:
        raise ServiceError(
            _l("Lo slug «%(slug)s» è riservato: scegline un altro.", slug=slug), field="slug"
        )
    if any(m.slug == slug for m in course.modules):
        raise ServiceError(
            _l(
                "Il corso ha già un modulo con lo slug «%(slug)s» (anche ritirato): "
                "scegline un altro.",
                slug=slug,
            ),
            field="slug",
        )
    title = " ".join((title or "").split())
    if not title:
        raise ServiceError(_l("Il titolo è obbligatorio."), field="title")
    if len(title) > MAX_TITLE_LENGTH:
        raise ServiceError(
            _l("Il titolo è troppo lungo: al massimo %(max)s caratteri.", max=MAX_TITLE_LENGTH),
            field="title",
        )
    position = max((m.position for m in course.modules), default=0) + 1
    doc, problems = parse_module_text(
        _module_filename(position, slug),
        new_module_source(title=title),
        media=(),
        default_pass=_pass_mark(course),
    )
    if doc is None:
        raise ServiceError("; ".join(p.message for p in problems if p.severity == "error"))
    module = Module(course=course, slug=slug, position=position)
    db.session.add(module)
    db.session.flush()
    save_module_version(module, doc, actor)
    return module


def preview_module(
    course: Course, source: str, *, module: Module | None = None, media_prefix: str = "media/"
) -> Preview:
    """A module source rendered for the editor (even with errors), with its problems.

    ``media_prefix`` is where the preview page finds the course's media, so that images
    show; the stored HTML keeps ``media/`` links relative to the module's own page.
    """
    filename = module.filename if module is not None else _module_filename(1, "anteprima")
    too_long = _too_long(filename, source)
    if too_long is not None:
        return Preview("", "", (too_long,))
    preview = preview_module_text(
        filename,
        source,
        media=media_paths(course),
        default_pass=_pass_mark(course),
        media_prefix=media_prefix,
        course_files=_course_files(course, module),
    )
    if not isinstance(preview.document, ModuleDoc):
        return preview
    title = preview.document.title
    return _with(preview, _length_problems(filename, source, {"title": (title, MAX_TITLE_LENGTH)}))


def save_module_source(module: Module, source: str, actor: User | None) -> tuple[Problem, ...]:
    """Save a module: a new version when valid and changed, else keep it as the draft."""
    course = module.course
    current = module.current_version
    source = _as_stored(source, current.source if current is not None else None)
    preview = preview_module(course, source, module=module)
    doc = preview.document
    if not isinstance(doc, ModuleDoc):
        module.draft_source = source
        db.session.flush()
        return preview.problems
    save_module_version(module, doc, actor)
    module.draft_source = None
    db.session.flush()
    return preview.problems


def discard_module_draft(module: Module) -> None:
    module.draft_source = None
    db.session.flush()


def move_module(module: Module, direction: str) -> None:
    """Swap the module's place with the previous ("up") or next ("down") active module."""
    if direction not in DIRECTIONS:
        raise ServiceError(_l("Direzione non valida."))
    if module.retired_at is not None:
        raise ServiceError(_l("Un modulo ritirato non si può spostare: ripristinalo prima."))
    active = sorted(module.course.active_modules, key=lambda m: (m.position, m.id))
    index = active.index(module)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(active):
        return  # already first or last
    neighbour = active[other]
    module.position, neighbour.position = neighbour.position, module.position
    db.session.flush()


def retire_module(module: Module) -> None:
    """Take a module out of the course; its versions, attempts and completions stay."""
    if module.retired_at is not None:
        return
    course = module.course
    if course.is_published and len(course.active_modules) <= 1:
        raise ServiceError(
            _l(
                "Un corso pubblicato deve avere almeno un modulo: aggiungine un altro o "
                "ritira il corso dalla pubblicazione prima."
            )
        )
    module.retired_at = utcnow()
    db.session.flush()


def restore_module(module: Module) -> None:
    """Put a retired module back in the course, in its former place."""
    module.retired_at = None
    db.session.flush()


# --------------------------------------------------------------------------- lists


@dataclass(frozen=True)
class EditorEntry:
    """A course as the editor lists it: every status, every cycle."""

    course: Course
    version: CourseVersion | None
    active_modules: int
    retired_modules: int
    drafts: int


def editor_courses() -> list[EditorEntry]:
    """Every course, drafts included, by title; with module counts and unsaved drafts."""
    courses = db.session.scalars(
        select(Course).options(
            joinedload(Course.current_version),
            joinedload(Course.cycle),
            selectinload(Course.modules),
        )
    ).unique()
    entries = [
        EditorEntry(
            course=course,
            version=course.current_version,
            active_modules=len(course.active_modules),
            retired_modules=len(course.modules) - len(course.active_modules),
            drafts=(course.draft_source is not None)
            + sum(m.draft_source is not None for m in course.modules),
        )
        for course in courses
    ]
    return sorted(
        entries, key=lambda e: (e.version.title if e.version else e.course.slug).casefold()
    )


def editor_modules(course: Course) -> list[Module]:
    """The course's modules for the editor: active ones in order, then the retired ones."""
    return sorted(course.modules, key=lambda m: (m.retired_at is not None, m.position, m.id))
