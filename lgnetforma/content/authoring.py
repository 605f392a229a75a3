"""Writing the course format for the web editor: new sources, small edits, previews.

The counterpart of :mod:`lgnetforma.content.parse`: pure functions, so that nothing
outside this package needs to know how ``course.md`` or a module is written. Every
source produced here parses with no errors; the review warnings of a new source
(:mod:`lgnetforma.content.review`) tell the author what is still to be written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from lgnetforma.content.model import CourseMeta, CourseStatus, ModuleDoc, Problem, Quiz
from lgnetforma.content.parse import parse_course_meta, parse_module_text
from lgnetforma.content.quiz import DEFAULT_PASS_MARK, QuizExtension
from lgnetforma.content.render import MAX_SOURCE_CHARS, normalise_newlines, render_markdown
from lgnetforma.content.review import SOURCES_HEADING

COURSE_STATUSES: tuple[CourseStatus, ...] = ("draft", "published")

_FENCE = "---"
_LINE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|$)")
_STATUS_LINE = re.compile(
    r"^(?P<key>status[ \t]*:)(?P<value>.*?)(?P<comment>[ \t]+#.*)?$",
)
_ENTITY = re.compile(r"&(?=#?\w+;)")
_TOP_LEVEL_KEY = r"^{key}[ \t]*:(?:[ \t]|$)"

COURSE_DESCRIPTION_PLACEHOLDER = (
    "Descrivi a chi si rivolge il corso, che cosa tratta e come si svolge la valutazione."
)
MODULE_BODY_PLACEHOLDER = (
    "Scrivi qui il testo del modulo. Puoi usare titoli (## Sezione), elenchi, tabelle, "
    "collegamenti e immagini con testo alternativo."
)
MODULE_SOURCES_PLACEHOLDER = (
    "- Norme e documenti su cui si basa il modulo, ciascuno con la sua data."
)


def _one_line(text: str) -> str:
    """Form input is one line: line breaks and surrounding spaces are never meant."""
    return " ".join(str(text).split())


def _front_matter(fields: dict[str, Any]) -> str:
    dumped = yaml.safe_dump(
        fields,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,  # one line per field, however long the title
    )
    return f"{_FENCE}\n{dumped}{_FENCE}\n"


def _number(value: float | int) -> float | int:
    """``6.0`` is written ``6``; other numbers as they are."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def new_course_source(
    *,
    title: str,
    summary: str,
    cycle: str,
    hours: float | int,
    area: str | None = None,
    status: CourseStatus = "draft",
) -> str:
    """A new ``course.md``: front matter with the given fields and a short description."""
    if status not in COURSE_STATUSES:
        raise ValueError(f"unknown course status: {status!r}")
    fields: dict[str, Any] = {"title": _one_line(title)}
    if summary and _one_line(summary):
        fields["summary"] = _one_line(summary)
    fields["cycle"] = _one_line(cycle)
    fields["hours"] = _number(hours)
    if area and _one_line(area):
        fields["area"] = _one_line(area)
    fields["status"] = status
    return f"{_front_matter(fields)}\n{COURSE_DESCRIPTION_PLACEHOLDER}\n"


def _markdown_text(text: str) -> str:
    """``text`` as Markdown that renders as exactly that text (no links, no HTML)."""
    escaped = text.replace("\\", "\\\\")
    for char in "`*_[]":
        escaped = escaped.replace(char, "\\" + char)
    escaped = _ENTITY.sub("&amp;", escaped).replace("<", "&lt;")
    if escaped.endswith("#"):
        escaped = escaped[:-1] + "\\#"
    return escaped


def new_module_source(*, title: str, duration: int = 30) -> str:
    """A new module: front matter, the title as a heading and a placeholder paragraph."""
    title = _one_line(title)
    front = _front_matter({"title": title, "duration": int(duration)})
    return (
        f"{front}\n# {_markdown_text(title)}\n\n{MODULE_BODY_PLACEHOLDER}\n\n"
        f"## {SOURCES_HEADING}\n\n{MODULE_SOURCES_PLACEHOLDER}\n"
    )


def _split_lines(source: str) -> list[tuple[str, str]]:
    """(text, line ending) pairs; the ending is "" only for the last line."""
    pairs: list[tuple[str, str]] = []
    for match in _LINE.finditer(source):
        text, ending = match.group(1), match.group(2)
        if not text and not ending:
            if match.start() == len(source):
                break
            continue
        pairs.append((text, ending))
    return pairs


def _front_matter_bounds(lines: list[tuple[str, str]]) -> tuple[int, int] | None:
    """Indexes of the opening and closing ``---`` lines, as the parser finds them."""
    if not lines or lines[0][0].removeprefix("\ufeff").rstrip() != _FENCE:
        return None
    for index in range(1, len(lines)):
        if lines[index][0].rstrip() == _FENCE:
            return 0, index
    return None


def set_course_status(source: str, status: CourseStatus) -> str:
    """``course.md`` with its ``status:`` set to ``status``; every other byte is kept.

    The ``status:`` line of the front matter is rewritten (a trailing comment stays), or
    added just before the closing ``---`` when there is none. Raises ``ValueError`` for an
    unknown status or a source without a front matter.
    """
    if status not in COURSE_STATUSES:
        raise ValueError(f"unknown course status: {status!r}")
    lines = _split_lines(source)
    bounds = _front_matter_bounds(lines)
    if bounds is None:
        raise ValueError("course.md has no front matter")
    _, close = bounds
    for index in range(1, close):
        text, ending = lines[index]
        match = _STATUS_LINE.match(text)
        if match is None:
            continue
        comment = match["comment"] or ""
        lines[index] = (f"{match['key']} {status}{comment}", ending)
        if not match["value"].strip():
            # The value was on the following, indented lines: they go with it.
            end = index + 1
            while end < close and lines[end][0][:1] in (" ", "\t"):
                end += 1
            del lines[index + 1 : end]
        return "".join(text + ending for text, ending in lines)
    ending = lines[close - 1][1] if close > 1 else lines[0][1]
    lines.insert(close, (f"status: {status}", ending or "\n"))
    return "".join(text + ending for text, ending in lines)


def field_line(source: str, key: str) -> int | None:
    """The 1-based line of the top-level front-matter field ``key``, or None."""
    lines = _split_lines(source)
    bounds = _front_matter_bounds(lines)
    if bounds is None:
        return None
    pattern = re.compile(_TOP_LEVEL_KEY.format(key=re.escape(key)))
    for index in range(1, bounds[1]):
        if pattern.match(lines[index][0]):
            return index + 1
    return None


# --------------------------------------------------------------------------- previews


@dataclass(frozen=True)
class Preview:
    """What the editor shows beside a source: the sanitised HTML, even with errors.

    ``quiz`` is the module's quiz (correct answers included, for the author) when it
    has no errors; ``problems`` are those of the validator, with their file lines;
    ``document`` is the parsed module or course metadata, None whenever there is an error.
    """

    html: str
    toc_html: str
    problems: tuple[Problem, ...]
    quiz: Quiz | None = None
    document: ModuleDoc | CourseMeta | None = None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


def _body(text: str) -> tuple[str, int]:
    """The text after the front matter and the file line it starts on, as the parser splits."""
    lines = normalise_newlines(text).split("\n")
    if lines[0].rstrip() != _FENCE:
        return "\n".join(lines), 1
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == _FENCE), None)
    if close is None:
        return "", len(lines) + 1
    return "\n".join(lines[close + 1 :]), close + 2


def _render_anyway(text: str, *, default_pass: float, media_prefix: str) -> Preview:
    """Render the body of a source that has errors, so the author still sees it."""
    body, first_line = _body(text)
    quiz_ext = QuizExtension(
        first_line=first_line, default_pass=default_pass, media_prefix=media_prefix
    )
    rendered = render_markdown(body, media_prefix=media_prefix, extensions=[quiz_ext])
    quiz = quiz_ext.blocks[0].quiz if len(quiz_ext.blocks) == 1 else None
    return Preview(rendered.html, rendered.toc_html, (), quiz)


def preview_module_text(
    filename: str,
    text: str,
    *,
    media: Iterable[str],
    default_pass: float = DEFAULT_PASS_MARK,
    media_prefix: str = "media/",
    course_files: Iterable[str] = (),
) -> Preview:
    """Validate a module like :func:`parse_module_text` and render it even with errors."""
    doc, problems = parse_module_text(
        filename,
        text,
        media=media,
        default_pass=default_pass,
        media_prefix=media_prefix,
        course_files=course_files,
    )
    if doc is not None:
        return Preview(doc.body_html, doc.toc_html, problems, doc.quiz, doc)
    if len(text) > MAX_SOURCE_CHARS:  # refused unread: nothing to show
        return Preview("", "", problems)
    try:
        fallback = _render_anyway(text, default_pass=default_pass, media_prefix=media_prefix)
    except Exception:  # arbitrary text must never raise: the problems say enough
        fallback = Preview("", "", ())
    return Preview(fallback.html, fallback.toc_html, problems, fallback.quiz)


def preview_course_text(
    text: str, *, media: Iterable[str] | None = None, media_prefix: str = "media/"
) -> Preview:
    """Validate ``course.md`` like :func:`parse_course_meta`; render its description anyway."""
    meta, problems = parse_course_meta(text, media=media, media_prefix=media_prefix)
    if meta is not None:
        return Preview(meta.description_html, "", problems, None, meta)
    if len(text) > MAX_SOURCE_CHARS:  # refused unread: nothing to show
        return Preview("", "", problems)
    try:
        fallback = _render_anyway(text, default_pass=DEFAULT_PASS_MARK, media_prefix=media_prefix)
    except Exception:  # arbitrary text must never raise: the problems say enough
        fallback = Preview("", "", ())
    return Preview(fallback.html, "", problems)
