"""Course folders to structured courses, or to a list of ``file:line: message`` problems.

The pure functions take text and return values; only :func:`parse_course_dir` and
:func:`parse_courses_dir` touch the file system. Every rule of
``docs/course-format.md`` is checked here, and all problems are collected, not just
the first. Arbitrary text never raises: it yields a course or problems.
"""

from __future__ import annotations

import html as html_lib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lgnetforma.content.model import (
    CourseDoc,
    CourseMeta,
    CourseStatus,
    ModuleDoc,
    ParseResult,
    Problem,
    Severity,
)
from lgnetforma.content.quiz import DEFAULT_PASS_MARK, QuizExtension, parse_percent
from lgnetforma.content.render import (
    MAX_SOURCE_CHARS,
    MEDIA_DIR,
    Reference,
    RenderedBody,
    local_target,
    normalise_newlines,
    raw_html_notes,
    render_markdown,
)
from lgnetforma.content.review import (
    check_duration_sum,
    check_effort,
    count_words,
    has_sources_heading,
    quiz_warnings,
)

COURSE_FILE = "course.md"
COURSE_KEYS = ("title", "summary", "cycle", "hours", "area", "pass", "status", "reviewed")
MODULE_KEYS = ("title", "duration", "objectives", "activity")
RESERVED_MODULE_SLUGS = frozenset({MEDIA_DIR})

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MODULE_FILENAME = re.compile(r"^(?P<prefix>\d{1,6})-(?P<slug>[^/\\]*)\.md$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CYCLE = re.compile(r"^(?P<start>\d{4})-(?P<end>\d{4})$")
_FENCE_LINE = "---"
_NULL = "tag:yaml.org,2002:null"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"
_SLUG_RULE = "solo lettere minuscole senza accenti, cifre e trattini"
_INTERNAL_ERROR = "errore interno del validatore"

Report = Callable[..., None]


def is_valid_slug(slug: str) -> bool:
    """Lowercase ASCII letters and digits, in words joined by single hyphens."""
    return bool(_SLUG.match(slug))


# --------------------------------------------------------------------------- problems


@dataclass
class _Problems:
    """Problems of one file."""

    path: str
    items: list[Problem] = field(default_factory=list)
    _seen: set[Problem] = field(default_factory=set)

    def __call__(
        self, line: int, message: str, severity: Severity = "error", code: str = ""
    ) -> None:
        problem = Problem(self.path, max(line, 1), message, severity, code)
        if problem not in self._seen:
            self._seen.add(problem)
            self.items.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self(problem.line, problem.message, problem.severity, problem.code)

    def sorted(self) -> tuple[Problem, ...]:
        return tuple(sorted(self.items, key=lambda p: p.line))

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.items)


def _join(base_path: str, name: str) -> str:
    return f"{base_path.rstrip('/')}/{name}" if base_path else name


# --------------------------------------------------------------------------- front matter


@dataclass
class _FrontMatter:
    """Front matter fields (key -> (line, value node)) and the body that follows."""

    fields: dict[str, tuple[int, Node]]
    body: str
    body_line: int
    valid: bool


def _split_front_matter(text: str, allowed: Sequence[str], report: Report) -> _FrontMatter:
    lines = text.split("\n")
    if lines[0].rstrip() != _FENCE_LINE:
        hint = ""
        if not lines[0].strip() and any(line.rstrip() == _FENCE_LINE for line in lines[:20]):
            hint = " (senza righe vuote prima)"
        report(
            1,
            f"manca il front matter: il file deve iniziare alla riga 1 con '---'{hint}, "
            "seguito dai campi 'chiave: valore' e da un'altra riga '---'",
        )
        return _FrontMatter({}, text, 1, valid=False)
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == _FENCE_LINE), None)
    if close is None:
        report(1, "front matter non chiuso: manca la riga '---' che lo termina")
        return _FrontMatter({}, "", len(lines) + 1, valid=False)

    body = "\n".join(lines[close + 1 :])
    yaml_text = "\n".join(lines[1:close])
    last_line = close + 1
    try:
        root = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
            mark = exc.context_mark  # an unclosed quote or bracket: show where it opens
        line = 2 + mark.line if mark is not None else 2
        line = min(max(line, 2), last_line)
        report(line, _yaml_message(exc, lines[line - 1] if line - 1 < len(lines) else ""))
        return _FrontMatter({}, body, close + 2, valid=False)
    except RecursionError:
        report(2, "front matter YAML non valido: struttura troppo annidata")
        return _FrontMatter({}, body, close + 2, valid=False)
    except Exception as exc:  # any YAML failure is the author's problem
        report(2, f"front matter YAML non valido: {exc}")
        return _FrontMatter({}, body, close + 2, valid=False)

    fields: dict[str, tuple[int, Node]] = {}
    if root is None:
        return _FrontMatter(fields, body, close + 2, valid=True)
    if not isinstance(root, MappingNode):
        report(
            2 + root.start_mark.line,
            "il front matter deve contenere campi nella forma 'chiave: valore'",
        )
        return _FrontMatter(fields, body, close + 2, valid=False)
    for key_node, value_node in root.value:
        line = 2 + key_node.start_mark.line
        if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
            report(line, "chiave non valida nel front matter: usa 'chiave: valore'")
            continue
        key = key_node.value
        if key in fields:
            report(line, f"chiave ripetuta nel front matter: '{key}'")
        elif key not in allowed:
            report(
                line,
                f"chiave sconosciuta nel front matter: '{key}' (ammesse: {', '.join(allowed)})",
            )
        else:
            fields[key] = (line, value_node)
    return _FrontMatter(fields, body, close + 2, valid=True)


def _yaml_message(exc: yaml.MarkedYAMLError, line_text: str) -> str:
    problem = exc.problem or exc.context or "errore di sintassi"
    message = f"front matter YAML non valido: {problem}"
    if "\t" in line_text:
        message += " (usa spazi, non tabulazioni)"
    elif "mapping values are not allowed" in problem:
        message += " (se il valore contiene ': ' mettilo tra virgolette)"
    return message


def _scalar_text(node: Node) -> str | None:
    """The text of a scalar as written (``yes`` stays "yes"); None for null/non-scalars."""
    if not isinstance(node, ScalarNode) or node.tag == _NULL:
        return None
    return node.value.strip()


def _construct(node: Node) -> object:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _read_text(fm: _FrontMatter, key: str, report: Report, *, required: bool) -> str | None:
    """A text field, as written; None when absent or empty (an error if required)."""
    if key not in fm.fields:
        if required and fm.valid:
            report(1, f"manca il campo obbligatorio '{key}'")
        return None
    line, node = fm.fields[key]
    if not isinstance(node, ScalarNode):
        report(line, f"il campo '{key}' deve essere un testo, non un elenco o una mappa")
        return None
    value = _scalar_text(node)
    if not value and required:
        report(line, f"il campo '{key}' è vuoto")
    return value or None


def _read_number(fm: _FrontMatter, key: str, report: Report) -> float | int | None:
    """A required positive number (int or float)."""
    if key not in fm.fields:
        if fm.valid:
            report(1, f"manca il campo obbligatorio '{key}'")
        return None
    line, node = fm.fields[key]
    value: object = None
    if isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT):
        try:
            value = _construct(node)
        except Exception:  # e.g. a date-like value that is not a date
            value = None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and math.isfinite(value) and value > 0:  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    hint = " (usa il punto per i decimali)" if "," in (_scalar_text(node) or "") else ""
    report(line, f"il campo '{key}' deve essere un numero positivo, ad esempio 6 o 1.5{hint}")
    return None


def _read_minutes(fm: _FrontMatter, key: str, report: Report) -> int | None:
    """A required positive whole number of minutes."""
    if key not in fm.fields:
        if fm.valid:
            report(1, f"manca il campo obbligatorio '{key}'")
        return None
    line, node = fm.fields[key]
    value: object = None
    if isinstance(node, ScalarNode) and node.tag == _INT:
        try:
            value = _construct(node)
        except Exception:  # e.g. a date-like value that is not a date
            value = None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    report(line, f"il campo '{key}' deve essere un numero intero positivo di minuti, ad esempio 30")
    return None


def _read_activity(fm: _FrontMatter, report: Report) -> int | None:
    """The optional ``activity`` minutes: a whole number, zero or more (default 0)."""
    if "activity" not in fm.fields:
        return 0
    line, node = fm.fields["activity"]
    value: object = None
    if isinstance(node, ScalarNode) and node.tag == _INT:
        try:
            value = _construct(node)
        except Exception:  # e.g. a date-like value that is not a date
            value = None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    report(
        line,
        "il campo 'activity' deve essere un numero intero di minuti, zero o più, "
        "ad esempio 20 (i minuti del compito applicato del modulo)",
    )
    return None


def _read_date(fm: _FrontMatter, key: str, report: Report) -> date | None:
    """An optional date written ``AAAA-MM-GG``."""
    if key not in fm.fields:
        return None
    line, node = fm.fields[key]
    text = _scalar_text(node) or ""
    if _DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    report(
        line,
        f"il campo '{key}' deve essere una data nella forma AAAA-MM-GG, ad esempio "
        f"2026-11-20 (trovato: '{text}')",
    )
    return None


def _too_long(text: str, report: Report) -> bool:
    """A source over MAX_SOURCE_CHARS is refused before it is read any further."""
    if len(text) <= MAX_SOURCE_CHARS:
        return False
    report(
        1,
        f"il file è troppo lungo: {len(text)} caratteri, al massimo {MAX_SOURCE_CHARS} "
        "(dividi il modulo in moduli più brevi)",
    )
    return True


# --------------------------------------------------------------------------- course.md


def parse_course_meta(
    course_md: str,
    *,
    media: Iterable[str] | None = None,
    base_path: str = "",
    media_prefix: str = "media/",
) -> tuple[CourseMeta | None, tuple[Problem, ...]]:
    """Validate and render ``course.md`` alone (for the editor).

    ``media`` lists the files under ``media/``; when it is None, links to ``media/`` are
    not checked. The result is None whenever there is an error.
    """
    report = _Problems(_join(base_path, COURSE_FILE))
    try:
        meta = _parse_course_meta(
            course_md,
            report,
            media=None if media is None else _normalise_media(media),
            media_prefix=media_prefix,
            course_files=frozenset(),
        )
    except Exception as exc:  # arbitrary text must never raise
        report(1, f"{_INTERNAL_ERROR}: {exc!r}")
        meta = None
    return (None if report.has_errors else meta), report.sorted()


def _parse_course_meta(
    course_md: str,
    report: _Problems,
    *,
    media: frozenset[str] | None,
    media_prefix: str,
    course_files: frozenset[str],
) -> CourseMeta | None:
    if _too_long(course_md, report):
        return None
    text = normalise_newlines(course_md)
    fm = _split_front_matter(text, COURSE_KEYS, report)
    title = _read_text(fm, "title", report, required=True)
    summary = _read_text(fm, "summary", report, required=False)
    area = _read_text(fm, "area", report, required=False)
    cycle = _read_cycle(fm, report)
    hours = _read_number(fm, "hours", report)
    pass_mark = _read_pass(fm, report)
    status = _read_status(fm, report)
    reviewed = _read_date(fm, "reviewed", report)
    if fm.valid and "reviewed" not in fm.fields:
        report(
            1,
            "manca 'reviewed': indica nel front matter la data dell'ultima revisione "
            "esperta dei contenuti, ad esempio reviewed: 2026-11-20",
            "warning",
            "W9",
        )

    quiz_ext = QuizExtension(first_line=fm.body_line, media_prefix=media_prefix)
    rendered = _render_body(fm, quiz_ext, media_prefix, report)
    for block in quiz_ext.blocks:
        report(block.line, "i quiz vanno nei moduli, non in course.md")
    _check_body(fm, rendered, quiz_ext, report, media=media, course_files=course_files)

    if report.has_errors or title is None or cycle is None or hours is None:
        return None
    return CourseMeta(
        title=title,
        summary=summary or "",
        cycle=cycle,
        hours=hours,
        area=area,
        pass_mark=pass_mark,
        status=status,
        source=course_md,
        description_html=rendered.html,
        reviewed=reviewed,
    )


def _read_cycle(fm: _FrontMatter, report: Report) -> str | None:
    cycle = _read_text(fm, "cycle", report, required=True)
    if cycle is None:
        return None
    match = _CYCLE.match(cycle)
    if match is None or int(match["end"]) <= int(match["start"]):
        line = fm.fields["cycle"][0]
        report(
            line,
            f"ciclo non valido: '{cycle}' (scrivi l'anno di inizio e quello di fine, "
            "ad esempio 2025-2026)",
        )
        return None
    return cycle


def _read_pass(fm: _FrontMatter, report: Report) -> float:
    if "pass" not in fm.fields:
        return DEFAULT_PASS_MARK
    line, node = fm.fields["pass"]
    value = _scalar_text(node)
    parsed = parse_percent(value) if value is not None else None
    if parsed is None:
        report(
            line,
            f"valore non valido per 'pass': '{value or ''}' (serve una percentuale tra 1% e "
            "100%, ad esempio 70%)",
        )
        return DEFAULT_PASS_MARK
    return parsed


def _read_status(fm: _FrontMatter, report: Report) -> CourseStatus:
    if "status" not in fm.fields:
        return "published"
    line, node = fm.fields["status"]
    value = _scalar_text(node)
    if value == "draft":
        return "draft"
    if value == "published":
        return "published"
    report(line, f"stato non valido: '{value or ''}' (ammessi: draft, published)")
    return "published"


# --------------------------------------------------------------------------- modules


def parse_module_text(
    filename: str,
    text: str,
    *,
    media: Iterable[str],
    default_pass: float = DEFAULT_PASS_MARK,
    base_path: str = "",
    media_prefix: str = "media/",
    course_files: Iterable[str] = (),
) -> tuple[ModuleDoc | None, tuple[Problem, ...]]:
    """Validate and render one module file ``NN-slug.md`` (for the importer and the editor).

    Module front matter: ``title`` (required), ``duration`` (required, a positive whole
    number of minutes), ``objectives`` (optional list of strings). ``default_pass`` is the
    course's pass mark, used when the quiz has no ``pass=``. ``media`` lists the files
    under ``media/``; ``course_files`` the other file names of the course, so that a link
    to one of them is a warning rather than an error. The module is None on any error.
    """
    report = _Problems(_join(base_path, filename))
    try:
        module = _parse_module(
            filename,
            text,
            report,
            media=_normalise_media(media),
            default_pass=default_pass,
            media_prefix=media_prefix,
            course_files=frozenset(course_files),
        )
    except Exception as exc:  # arbitrary text must never raise
        report(1, f"{_INTERNAL_ERROR}: {exc!r}")
        module = None
    return (None if report.has_errors else module), report.sorted()


def _split_module_filename(filename: str, report: Report) -> tuple[int, str] | None:
    match = _MODULE_FILENAME.match(filename)
    if match is None or not is_valid_slug(match["slug"]):
        report(
            1,
            f"nome di file non valido per un modulo: '{filename}' (serve NN-slug.md, ad "
            f"esempio 01-perche-monitorare.md; lo slug usa {_SLUG_RULE})",
        )
        return None
    if match["slug"] in RESERVED_MODULE_SLUGS:
        report(1, f"lo slug '{match['slug']}' è riservato: rinomina il file del modulo")
        return None
    return int(match["prefix"]), match["slug"]


def _parse_module(
    filename: str,
    text: str,
    report: _Problems,
    *,
    media: frozenset[str],
    default_pass: float,
    media_prefix: str,
    course_files: frozenset[str],
) -> ModuleDoc | None:
    name = _split_module_filename(filename, report)
    if _too_long(text, report):
        return None
    fm = _split_front_matter(normalise_newlines(text), MODULE_KEYS, report)
    title = _read_text(fm, "title", report, required=True)
    duration = _read_minutes(fm, "duration", report)
    objectives = _read_objectives(fm, report)
    activity = _read_activity(fm, report)

    quiz_ext = QuizExtension(
        first_line=fm.body_line, default_pass=default_pass, media_prefix=media_prefix
    )
    rendered = _render_body(fm, quiz_ext, media_prefix, report)
    report.extend(quiz_ext.problems)
    first = quiz_ext.blocks[0] if quiz_ext.blocks else None
    for block in quiz_ext.blocks[1:]:
        report(
            block.line,
            f"il modulo ha più di un quiz: ne è ammesso uno solo (il primo è alla riga "
            f"{first.line if first else block.line})",
        )
    _check_body(fm, rendered, quiz_ext, report, media=media, course_files=course_files)
    _review_module(fm, quiz_ext, duration, activity, report)

    if report.has_errors or name is None or title is None or duration is None:
        return None
    if activity is None:
        return None
    position, slug = name
    return ModuleDoc(
        filename=filename,
        slug=slug,
        position=position,
        title=title,
        duration=duration,
        objectives=objectives,
        source=text,
        body_html=rendered.html,
        toc_html=rendered.toc_html,
        headings_count=rendered.headings_count,
        quiz=first.quiz if first else None,
        activity=activity,
    )


def _review_module(
    fm: _FrontMatter,
    quiz_ext: QuizExtension,
    duration: int | None,
    activity: int | None,
    report: Report,
) -> None:
    """Effort and item-writing warnings (see :mod:`lgnetforma.content.review`)."""
    quiz_lines: set[int] = set()
    for block in quiz_ext.blocks:
        quiz_lines.update(range(block.line, block.end_line + 1))
    body = [
        (fm.body_line + offset, text)
        for offset, text in enumerate(fm.body.split("\n"))
        if fm.body_line + offset not in quiz_lines
    ]
    if fm.valid and not has_sources_heading(text for _, text in _prose_lines(fm, quiz_ext)):
        report(
            next((n for n, text in reversed(body) if text.strip()), fm.body_line),
            "manca la sezione 'Fonti e aggiornamento': chiudi il modulo con un titolo "
            "'## Fonti e aggiornamento' che elenca norme e documenti con le loro date",
            "warning",
            "W8",
        )
    quiz = quiz_ext.blocks[0].quiz if quiz_ext.blocks else None
    if duration is not None and activity is not None:
        words = count_words("\n".join(text for _, text in body))
        questions = len(quiz.questions) if quiz is not None else 0
        check_effort(duration, words, questions, activity, fm.fields["duration"][0], report)
    if quiz is not None:
        quiz_warnings(quiz, report)


def _read_objectives(fm: _FrontMatter, report: Report) -> tuple[str, ...]:
    if "objectives" not in fm.fields:
        return ()
    line, node = fm.fields["objectives"]
    if isinstance(node, ScalarNode) and node.tag == _NULL:
        return ()
    if not isinstance(node, SequenceNode):
        report(
            line,
            "il campo 'objectives' deve essere un elenco, con una riga '  - obiettivo' "
            "per ciascun obiettivo",
        )
        return ()
    objectives: list[str] = []
    for item in node.value:
        value = _scalar_text(item) if isinstance(item, ScalarNode) else None
        if not value:
            report(2 + item.start_mark.line, "ogni obiettivo deve essere una frase non vuota")
            continue
        objectives.append(value)
    return tuple(objectives)


# --------------------------------------------------------------------------- links


def _render_body(
    fm: _FrontMatter, quiz_ext: QuizExtension, media_prefix: str, report: Report
) -> RenderedBody:
    rendered = render_markdown(fm.body, media_prefix=media_prefix, extensions=[quiz_ext])
    if rendered.unrendered is not None:
        first, reason = rendered.unrendered
        line = next(
            (number for number, text in _prose_lines(fm, quiz_ext) if text == first),
            fm.body_line,
        )
        report(line, reason)
    return rendered


def _prose_lines(fm: _FrontMatter, quiz_ext: QuizExtension) -> list[tuple[int, str]]:
    """Body lines with their file line numbers, without fenced code and quiz blocks."""
    return [
        (fm.body_line + offset, text)
        for offset, text in enumerate(fm.body.split("\n"))
        if fm.body_line + offset not in quiz_ext.fenced_lines
    ]


def _check_body(
    fm: _FrontMatter,
    rendered: RenderedBody,
    quiz_ext: QuizExtension,
    report: Report,
    *,
    media: frozenset[str] | None,
    course_files: frozenset[str],
) -> None:
    """Links and images of the body and of the quiz: targets exist, images have alt text."""
    prose = _prose_lines(fm, quiz_ext)
    for note in raw_html_notes(prose):
        report(note.line, note.message, note.severity)
    located = _locate(rendered.references, prose, fm.body_line)
    for line, ref in [*located, *quiz_ext.references]:
        _check_reference(line, ref, report, media=media, course_files=course_files)


def _locate(
    references: Sequence[Reference], lines: Sequence[tuple[int, str]], fallback: int
) -> list[tuple[int, Reference]]:
    """Give each reference the line it was written on.

    The n-th link or image to a URL is put on the line of the n-th place that writes a
    link or image to that URL (Markdown ``](url``, ``[id]: url``, ``<url>``, or an
    ``href``/``src`` attribute, entities decoded), so that the same URL elsewhere (in a
    ``<script>`` or an ``<iframe>``) does not move it; failing that, on the n-th line
    where the URL appears at all.
    """
    written: dict[str, list[int]] = {}
    for number, text in lines:
        for url in _written_urls(text):
            written.setdefault(url, []).append(number)
    occurrences: dict[str, list[int]] = {}
    seen: dict[str, int] = {}
    located: list[tuple[int, Reference]] = []
    for ref in references:
        url = ref.url
        if url not in occurrences:
            found = written.get(url.strip(), [])
            if not found:
                variants = {url, url.replace("&", "&amp;")}
                found = [
                    number
                    for number, text in lines
                    if url
                    for _ in range(max(text.count(v) for v in variants))
                ]
            occurrences[url] = found
        found = occurrences[url]
        index = seen.get(url, 0)
        seen[url] = index + 1
        line = found[min(index, len(found) - 1)] if found else fallback
        located.append((line, ref))
    return located


_MARKDOWN_URL = re.compile(r"\]\(\s*(?:<(?P<angle>[^>\n]*)>|(?P<plain>(?:[^()\s]|\([^()\s]*\))+))")
_DEFINITION_URL = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(?P<url>[^\s>]+)")
_AUTOLINK_URL = re.compile(r"<(?P<url>[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
_HTML_URL = re.compile(
    r"<(?:a|img)\b[^<>]*?\b(?:href|src)\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s>]+))",
    re.I,
)


def _written_urls(text: str) -> list[str]:
    """The URLs a line writes as links or images, entities decoded, in the order written."""
    if "(" not in text and "<" not in text and ":" not in text:
        return []
    found: list[tuple[int, str]] = []
    for match in _MARKDOWN_URL.finditer(text):
        found.append((match.start(), match["angle"] or match["plain"] or ""))
    for match in _DEFINITION_URL.finditer(text):
        found.append((match.start(), match["url"]))
    for match in _AUTOLINK_URL.finditer(text):
        found.append((match.start(), match["url"]))
    for match in _HTML_URL.finditer(text):
        found.append((match.start(), match["dq"] or match["sq"] or match["bare"] or ""))
    return [html_lib.unescape(url).strip() for _, url in sorted(found)]


def _check_reference(
    line: int,
    ref: Reference,
    report: Report,
    *,
    media: frozenset[str] | None,
    course_files: frozenset[str],
) -> None:
    what = "l'immagine" if ref.kind == "image" else "il collegamento"
    if ref.blocked:
        shown = ref.url if len(ref.url) <= 60 else ref.url[:57] + "..."
        report(
            line,
            f"{what} usa un indirizzo non ammesso: '{shown}' (sono ammessi http, https, "
            f"mailto, tel e i file in {MEDIA_DIR}/)",
        )
        return
    if ref.kind == "image" and not (ref.alt or "").strip():
        report(
            line,
            f"immagine senza testo alternativo: '{ref.url}' (scrivi una descrizione tra le "
            "parentesi quadre di ![...](...))",
            "warning",
        )
    target = local_target(ref.url)
    if target is None or media is None:
        return
    if target.startswith(MEDIA_DIR + "/"):
        if target not in media:
            report(line, f"{what} punta a un file che non esiste: '{target}'")
    elif target in course_files:
        report(
            line,
            f"{what} punta al file '{target}', che nella piattaforma non è un indirizzo: "
            f"metti i file da scaricare in {MEDIA_DIR}/",
            "warning",
        )
    else:
        report(
            line,
            f"{what} punta a un file che non esiste nella cartella del corso: '{ref.url}' "
            f"(i file vanno in {MEDIA_DIR}/; per un sito esterno scrivi l'indirizzo "
            "completo, con https://)",
        )


def _normalise_media(media: Iterable[str]) -> frozenset[str]:
    """``media/a.png``, ``./media/a.png`` and ``a.png`` all mean ``media/a.png``."""
    paths: set[str] = set()
    for entry in media:
        path = entry.replace("\\", "/").strip()
        while path.startswith("./"):
            path = path[2:]
        if not path.startswith(MEDIA_DIR + "/"):
            path = f"{MEDIA_DIR}/{path.lstrip('/')}"
        target = local_target(path)
        paths.add(target if target is not None else path)
    return frozenset(paths)


# --------------------------------------------------------------------------- courses


def parse_course_files(
    slug: str,
    course_md: str,
    modules: Mapping[str, str],
    media: Iterable[str],
    *,
    base_path: str = "",
    media_prefix: str = "media/",
) -> ParseResult:
    """Parse a course from its texts: ``course.md``, the modules by file name, the media.

    ``media`` lists the files under the course's ``media/`` folder (``media/ciclo.png``);
    ``base_path`` prefixes problem paths (``courses/monitoraggio-progetti``).
    """
    course_path = _join(base_path, COURSE_FILE)
    try:
        return _parse_course_files(
            slug, course_md, modules, media, base_path=base_path, media_prefix=media_prefix
        )
    except Exception as exc:  # arbitrary text must never raise
        return ParseResult(None, (Problem(course_path, 1, f"{_INTERNAL_ERROR}: {exc!r}"),))


def _parse_course_files(
    slug: str,
    course_md: str,
    modules: Mapping[str, str],
    media: Iterable[str],
    *,
    base_path: str,
    media_prefix: str,
) -> ParseResult:
    media_set = _normalise_media(media)
    filenames = sorted(modules)
    course_files = frozenset([COURSE_FILE, *filenames])
    course_report = _Problems(_join(base_path, COURSE_FILE))
    if not is_valid_slug(slug):
        course_report(
            1,
            f"slug del corso non valido: '{slug}' (il nome della cartella usa {_SLUG_RULE}, "
            "ad esempio monitoraggio-progetti)",
        )
    meta = _parse_course_meta(
        course_md,
        course_report,
        media=media_set,
        media_prefix=media_prefix,
        course_files=course_files,
    )
    default_pass = meta.pass_mark if meta else _fallback_pass(course_md)
    if not filenames:
        course_report(
            1, "il corso non ha moduli: aggiungi almeno un file NN-slug.md accanto a course.md"
        )

    problems: list[Problem] = list(course_report.sorted())
    parsed: list[ModuleDoc] = []
    positions: dict[int, str] = {}
    slugs: dict[str, str] = {}
    for filename in filenames:
        module_report = _Problems(_join(base_path, filename))
        module = _parse_module(
            filename,
            modules[filename],
            module_report,
            media=media_set,
            default_pass=default_pass,
            media_prefix=media_prefix,
            course_files=course_files - {filename},
        )
        name = _MODULE_FILENAME.match(filename)
        if name is not None and is_valid_slug(name["slug"]):
            position, module_slug = int(name["prefix"]), name["slug"]
            if position in positions:
                module_report(
                    1,
                    f"il prefisso {name['prefix']} è già usato da {positions[position]}: "
                    "ogni modulo deve avere un numero diverso",
                )
            else:
                positions[position] = filename
            if module_slug in slugs:
                module_report(
                    1,
                    f"lo slug '{module_slug}' è già usato da {slugs[module_slug]}: "
                    "ogni modulo deve avere uno slug diverso",
                )
            else:
                slugs[module_slug] = filename
        problems.extend(module_report.sorted())
        if module is not None and not module_report.has_errors:
            parsed.append(module)

    if meta is not None and filenames and len(parsed) == len(filenames):
        hours_report = _Problems(course_report.path)
        check_duration_sum(
            float(meta.hours),
            [m.duration for m in parsed],
            _field_line(course_md, "hours"),
            hours_report,
            "error",
        )
        head = sorted([*course_report.items, *hours_report.items], key=lambda p: p.line)
        problems[: len(course_report.items)] = head
    if meta is None or any(p.severity == "error" for p in problems):
        return ParseResult(None, tuple(problems))
    course = CourseDoc(
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
        modules=tuple(sorted(parsed, key=lambda m: m.position)),
        media=tuple(sorted(media_set)),
        reviewed=meta.reviewed,
    )
    return ParseResult(course, tuple(problems))


def _field_line(course_md: str, key: str) -> int:
    """The line of a front-matter field of ``course.md`` (1 when it is not there)."""
    fm = _split_front_matter(normalise_newlines(course_md), COURSE_KEYS, lambda *_: None)
    return fm.fields[key][0] if key in fm.fields else 1


def _fallback_pass(course_md: str) -> float:
    """The course pass mark even when course.md has other errors (for module quizzes)."""
    fm = _split_front_matter(normalise_newlines(course_md), COURSE_KEYS, lambda *_: None)
    if "pass" not in fm.fields:
        return DEFAULT_PASS_MARK
    value = _scalar_text(fm.fields["pass"][1])
    return (parse_percent(value) if value else None) or DEFAULT_PASS_MARK


# --------------------------------------------------------------------------- file system


def parse_course_dir(path: Path) -> ParseResult:
    """Read a course folder and parse it; problem paths start with ``path`` as given."""
    path = Path(path)
    base = str(path)
    if not path.is_dir():
        return ParseResult(None, (Problem(base, 1, "la cartella del corso non esiste"),))
    course_file = path / COURSE_FILE
    if not course_file.is_file():
        return ParseResult(
            None,
            (Problem(_join(base, COURSE_FILE), 1, "manca il file course.md del corso"),),
        )

    extra: list[Problem] = []
    course_md = _read_file(course_file, _join(base, COURSE_FILE), extra)
    modules: dict[str, str] = {}
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or entry.name in (COURSE_FILE, MEDIA_DIR):
            continue
        entry_path = _join(base, entry.name)
        if entry.is_dir():
            extra.append(
                Problem(
                    entry_path,
                    1,
                    f"cartella ignorata: i file del corso vanno in {MEDIA_DIR}/",
                    "warning",
                )
            )
        elif entry.suffix.lower() == ".md":
            content = _read_file(entry, entry_path, extra)
            if content is not None:
                modules[entry.name] = content
        else:
            extra.append(
                Problem(
                    entry_path,
                    1,
                    f"file ignorato: i file da mostrare o scaricare vanno in {MEDIA_DIR}/",
                    "warning",
                )
            )
    media_dir = path / MEDIA_DIR
    media: list[str] = []
    if media_dir.is_dir():
        for file in sorted(media_dir.rglob("*")):
            relative = file.relative_to(media_dir)
            if file.is_file() and not any(part.startswith(".") for part in relative.parts):
                media.append(f"{MEDIA_DIR}/{relative.as_posix()}")
    slug = path.name or path.resolve().name
    result = parse_course_files(slug, course_md or "", modules, media, base_path=base)
    problems = result.problems
    if course_md is None:  # unreadable: its read error stands for everything else
        problems = tuple(p for p in problems if p.path != _join(base, COURSE_FILE))
    problems = (*problems, *extra)
    has_errors = any(p.severity == "error" for p in problems)
    return ParseResult(None if has_errors else result.course, problems)


def _read_file(file: Path, shown: str, problems: list[Problem]) -> str | None:
    try:
        data = file.read_bytes()
    except OSError as exc:
        problems.append(Problem(shown, 1, f"impossibile leggere il file: {exc.strerror}"))
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problems.append(Problem(shown, line, "il file non è in UTF-8: salvalo con codifica UTF-8"))
        return None


def parse_courses_dir(path: Path) -> list[ParseResult]:
    """Parse every course folder under ``path`` (e.g. ``courses/``), in name order."""
    path = Path(path)
    if not path.is_dir():
        return [ParseResult(None, (Problem(str(path), 1, "la cartella dei corsi non esiste"),))]
    results: list[ParseResult] = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if (entry / COURSE_FILE).is_file():
            results.append(parse_course_dir(entry))
        else:
            results.append(
                ParseResult(
                    None,
                    (
                        Problem(
                            str(entry),
                            1,
                            "la cartella non contiene course.md: ogni corso ha il suo course.md",
                        ),
                    ),
                )
            )
    return results
