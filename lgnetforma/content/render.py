"""Markdown to safe HTML.

Python-Markdown renders, nh3 sanitises with an allow-list. Links and images that point
into the course's ``media/`` folder are rewritten to ``media_prefix`` so that the same
source can be shown at its public address or in the editor's preview.
"""

from __future__ import annotations

import bisect
import html as html_lib
import posixpath
import re
import threading
import unicodedata
import xml.etree.ElementTree as etree
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import unquote, urlsplit

import markdown
import nh3
from markdown.extensions import Extension
from markdown.extensions.fenced_code import FencedCodeExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import (
    PIPE_LEFT,
    PIPE_NONE,
    PIPE_RIGHT,
    TableExtension,
    TableProcessor,
)
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import HTML_PLACEHOLDER_RE

MEDIA_DIR = "media"
#: Longest source (course.md or module) the platform accepts: the validator refuses a
#: longer one before rendering it, and every shape of ``content/adversarial.py`` renders
#: in well under two seconds at this size (``make bench-markdown``).
MAX_SOURCE_CHARS = 200_000
TOC_MIN_HEADINGS = 3
# Python-Markdown is quadratic in the number of "[" of a paragraph (links) and in the
# number of unclosed ``` lines (fenced code): beyond these limits a document is not
# rendered at all, and the validator rejects it, instead of keeping a CPU busy for minutes.
MAX_BRACKETS_PER_BLOCK = 1000
MAX_UNCLOSED_FENCES = 20
#: Python-Markdown rebuilds an element's text at every inline match (emphasis, code,
#: link…), so its work grows with matches × length: longer paragraphs, list items or
#: table cells are refused.
MAX_INLINE_CHARS = 10_000
#: Headings and rules (each a block, with its own work) in one document, at most.
MAX_HEADINGS = 1000
#: Lists and quotes nest at most this deep (Python-Markdown recurses once per level).
MAX_NESTING = 40

#: The opening line of a fenced code block, as Python-Markdown's fenced_code reads it.
CODE_FENCE = re.compile(
    r"^(?P<fence>~{3,}|`{3,})[ ]*"
    r"(?:\{[^\n]*\}|(?:\.?[\w#.+-]*[ ]*)?(?:hl_lines=(?P<q>[\"']).*?(?P=q)[ ]*)?)$"
)

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_INLINE_TAGS = {
    "a",
    "abbr",
    "b",
    "br",
    "code",
    "del",
    "em",
    "i",
    "img",
    "ins",
    "kbd",
    "mark",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "u",
    "var",
}
_BLOCK_TAGS = (
    _INLINE_TAGS
    | _HEADINGS
    | {
        "blockquote",
        "caption",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
# Dropped together with their content (they must not be in the allowed tags).
_DROP_WITH_CONTENT = {
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "form",
    "svg",
    "math",
    "noscript",
    "template",
    "textarea",
    "select",
    "button",
}
_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "code": {"class"},
    "div": {"class"},
    "ol": {"start"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    **{h: {"id"} for h in _HEADINGS},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel"}
_CODE_CLASS_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_#+.-")


@dataclass(frozen=True)
class Reference:
    """A link or an image of rendered text, with its URL as written."""

    kind: Literal["link", "image"]
    url: str
    alt: str | None = None
    #: The URL was removed by the sanitiser (``javascript:``, ``data:``…).
    blocked: bool = False


@dataclass(frozen=True)
class RenderedBody:
    """Rendered HTML; ``toc_html`` is empty unless there are 3+ h2/h3 headings."""

    html: str
    toc_html: str
    headings_count: int
    references: tuple[Reference, ...] = ()
    #: (first line of the offending text, reason) when the document was too heavy to
    #: render; the HTML is then empty.
    unrendered: tuple[str, str] | None = None


def slugify(value: str, separator: str = "-") -> str:
    """Heading anchor: ``"Perché l'indice?"`` -> ``"perche-l-indice"`` (ASCII only)."""
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    words: list[str] = []
    current: list[str] = []
    for char in ascii_only:
        if "a" <= char <= "z" or "0" <= char <= "9":
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return separator.join(words) or "sezione"


def media_path(url: str) -> str | None:
    """The normalised ``media/...`` path a relative URL points to, or None."""
    target = local_target(url)
    if target is not None and target.startswith(MEDIA_DIR + "/"):
        return target
    return None


def local_target(url: str) -> str | None:
    """The course-folder path a relative URL points to (``None`` for external/anchor URLs)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
        return None
    return posixpath.normpath(unquote(parts.path))


class _TableProcessor(TableProcessor):
    """Python-Markdown's table processor, testing a block by its first lines only.

    The original splits the whole block at every test; the block parser tests what is
    left of a block after each heading or rule it splits off, so a block of 40,000
    headings took minutes. Same decisions, reading only the lines it needs.
    """

    def test(self, parent: etree.Element, block: str) -> bool:  # noqa: ARG002
        lines = (line.strip(" ") for line in _lines(block))
        header = next(lines)
        second = next(lines, None)
        if second is None:
            return False
        self.border = PIPE_NONE
        if header.startswith("|"):
            self.border |= PIPE_LEFT
        if self.RE_END_BORDER.search(header) is not None:
            self.border |= PIPE_RIGHT
        row0_len = len(self._split_row(header))
        is_table = row0_len > 1
        if not is_table and row0_len == 1 and self.border:
            # Each row of a single-column table needs at least one pipe.
            for text in (second, *lines):
                is_table = text.startswith("|") or self.RE_END_BORDER.search(text) is not None
                if not is_table:
                    break
        if is_table:
            row = self._split_row(second)
            is_table = len(row) == row0_len and set("".join(row)) <= set("|:- ")
            if is_table:
                self.separator = row
        return is_table


def _lines(text: str):  # noqa: ANN202
    """The lines of ``text``, one at a time (no copy of the whole text)."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


class _Guard(Preprocessor):
    """Empty the document when it would make Python-Markdown run for too long."""

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        #: (first line of the offending text, Italian explanation) once tripped.
        self.tripped: tuple[str, str] | None = None


#: Lines that always end a Markdown block: ATX headings, and lines of only "=", "-", "*"
#: or "_" (setext underlines and rules), at the start of the line.
_BLOCK_END = re.compile(r"^(?:#{1,6}(?:[ \t]|$)|(?:=+|-+|(?:[-*_][ \t]*){3,})[ \t]*$)")


class _BlockBreaks(_Guard):
    """End a block after each heading or rule line, as Markdown already does.

    Python-Markdown splits such a line off a block and puts the rest back, to be tested
    again by every block processor: linear work per line, quadratic per block (40,000
    headings without blank lines took minutes). A blank line after the line gives the
    same document with one short block each. Runs after the
    fenced code and raw HTML blocks are stashed, so their lines are not touched.
    """

    def run(self, lines: list[str]) -> list[str]:
        output: list[str] = []
        count = 0
        for line in lines:
            if _BLOCK_END.match(line) is None:
                output.append(line)
                continue
            count += 1
            if count > MAX_HEADINGS:
                self.tripped = (
                    line,
                    f"più di {MAX_HEADINGS} titoli o linee orizzontali: dividi il modulo",
                )
                return []
            output.append(line)
            output.append("")
        return output


#: A "<" whose next ">" is further than this cannot start a tag (see _UnfinishedTags).
MAX_TAG_LENGTH = 4000
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


_HIDDEN_LT = "\ue000"  # a private-use character, never in a course (checked)


class _UnfinishedTags(Preprocessor):
    """Hide from the raw-HTML reader a "<" that no ">" closes within MAX_TAG_LENGTH.

    Python-Markdown finds raw HTML blocks with the standard library's HTMLParser, which
    scans from every "<" to the next ">" (or to the end of the text): ``"<a " * 60000``
    or ``"<http://" * 25000`` took minutes. Such a "<" cannot start a tag: it is hidden
    for that step only (_RestoreTags puts it back), so the text renders as before, in
    linear time. Code spans are left alone; fenced code is stashed before this runs.
    """

    #: What replaces a hidden "<" (``&lt;`` when the text has the private-use character).
    hidden = _HIDDEN_LT
    #: Whether this run hid a "<" with the private-use character (to be put back).
    used = False

    def run(self, lines: list[str]) -> list[str]:
        self.used = False
        text = "\n".join(lines)
        if "<" not in text:
            return lines
        self.hidden = "&lt;" if _HIDDEN_LT in text else _HIDDEN_LT
        scan = "\n".join(mask_code_spans(line) if "`" in line else line for line in lines)
        parts: list[str] = []
        position = 0
        closing = -1  # position of the next ">" (len(text) when there is none)
        for match in _TAG_START.finditer(scan):
            start = match.start()
            if closing < start:
                found = scan.find(">", start)
                closing = len(scan) if found < 0 else found
            if closing - start > MAX_TAG_LENGTH:
                parts.append(text[position:start])
                parts.append(self.hidden)
                position = start + 1
        if not parts:
            return lines
        self.used = self.hidden == _HIDDEN_LT
        parts.append(text[position:])
        return "".join(parts).split("\n")


class _RestoreTags(Preprocessor):
    """Put back the "<" that _UnfinishedTags hid, once raw HTML blocks are found."""

    def __init__(self, md: markdown.Markdown, hider: _UnfinishedTags) -> None:
        super().__init__(md)
        self.hider = hider

    def run(self, lines: list[str]) -> list[str]:
        if not self.hider.used:
            return lines
        return [line.replace(_HIDDEN_LT, "<") if _HIDDEN_LT in line else line for line in lines]


class _Tables(TableExtension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        super().extendMarkdown(md)
        md.parser.blockprocessors.register(
            _TableProcessor(md.parser, self.getConfigs()), "table", 75
        )


def render_markdown(
    text: str, *, media_prefix: str = "media/", extensions: Sequence[Extension] = ()
) -> RenderedBody:
    """Render a Markdown document (module body, course description) to sanitised HTML.

    A document too heavy for Python-Markdown (see ``MAX_BRACKETS_PER_BLOCK``,
    ``MAX_UNCLOSED_FENCES``, ``MAX_NESTING``, ``MAX_INLINE_CHARS``, ``MAX_HEADINGS``) is
    not rendered at all: the result is empty and ``unrendered`` says why.
    """
    md = markdown.Markdown(
        extensions=[
            _Tables(use_align_attribute=True),
            FencedCodeExtension(),
            SaneListExtension(),
            *extensions,
        ],
        output_format="html",
    )
    # Quiz blocks are lifted out at 27 and fenced code is stashed at 25.
    breaks = _BlockBreaks(md)
    guards = (_FenceGuard(md), _BracketGuard(md), _NestingGuard(md), _InlineGuard(md), breaks)
    md.preprocessors.register(guards[0], "lgnetforma_fence_guard", 26)
    md.preprocessors.register(guards[1], "lgnetforma_bracket_guard", 24)
    md.preprocessors.register(guards[2], "lgnetforma_nesting_guard", 23)
    md.treeprocessors.register(guards[3], "lgnetforma_inline_guard", 25)  # before inline
    md.preprocessors.register(breaks, "lgnetforma_block_breaks", 15)
    headings = _Headings(md)
    md.treeprocessors.register(headings, "lgnetforma_headings", 5)
    hider = _UnfinishedTags(md)
    md.preprocessors.register(hider, "lgnetforma_unfinished_tags", 21)
    md.preprocessors.register(_RestoreTags(md, hider), "lgnetforma_restore_tags", 19)
    raw_html = md.convert(normalise_newlines(text))
    for guard in guards:
        if guard.tripped is not None:
            return RenderedBody("", "", 0, unrendered=guard.tripped)
    headings_count = len(headings.toc)
    html, references = _sanitise(raw_html, media_prefix, inline=False)
    toc_html = ""
    if headings_count >= TOC_MIN_HEADINGS:
        toc_html = _cleaner(False, media_prefix).clean(headings.toc_html())
    return RenderedBody(html.strip(), toc_html.strip(), headings_count, references)


def render_inline(text: str, *, media_prefix: str = "media/") -> str:
    """Render inline Markdown (question, option, feedback text) to sanitised HTML."""
    return render_inline_references(text, media_prefix=media_prefix)[0]


def render_inline_references(
    text: str, *, media_prefix: str = "media/"
) -> tuple[str, tuple[Reference, ...]]:
    """Like :func:`render_inline`, also returning the links and images it contains."""
    text = normalise_newlines(text).replace("\x02", "").replace("\x03", "").strip()
    if not text:
        return "", ()
    if text.count("[") > MAX_BRACKETS_PER_BLOCK or len(text) > MAX_INLINE_CHARS:
        return html_lib.escape(text, quote=False), ()
    md = _inline_markdown()
    # Only the inline part of Python-Markdown runs: a paragraph is built by hand, so
    # "# x" or "1. x" stay text instead of becoming a heading or a list.
    root = etree.Element("div")
    paragraph = etree.SubElement(root, "p")
    paragraph.text = text
    for processor in md.treeprocessors:
        new_root = processor.run(root)
        if new_root is not None:
            root = new_root
    output = md.serializer(root)
    for postprocessor in md.postprocessors:
        output = postprocessor.run(output)
    html, references = _sanitise(output, media_prefix, inline=True)
    return html.strip(), references


_LOCAL = threading.local()


def _inline_markdown() -> markdown.Markdown:
    """A reset Python-Markdown instance for inline text, one per thread (building one
    costs more than rendering a question)."""
    md = getattr(_LOCAL, "inline", None)
    if md is None:
        md = _LOCAL.inline = markdown.Markdown(output_format="html")
    md.reset()
    return md


class FenceCloser:
    """Finds the line that closes a fence (same characters, same length) in O(log n)."""

    def __init__(self, lines: Sequence[str]) -> None:
        self._closers: dict[str, list[int]] = {}
        for index, line in enumerate(lines):
            fence = line.rstrip()
            if len(fence) >= 3 and (set(fence) == {"`"} or set(fence) == {"~"}):
                self._closers.setdefault(fence, []).append(index)

    def find(self, fence: str, start: int) -> int | None:
        """Index of the first line at or after ``start`` that closes ``fence``."""
        candidates = self._closers.get(fence, [])
        position = bisect.bisect_left(candidates, start)
        return candidates[position] if position < len(candidates) else None


class _FenceGuard(_Guard):
    def run(self, lines: list[str]) -> list[str]:
        closer = FenceCloser(lines)
        unclosed: list[str] = []
        index = 0
        while index < len(lines):
            opening = CODE_FENCE.match(lines[index])
            close = closer.find(opening["fence"], index + 1) if opening else None
            if opening and close is None:
                unclosed.append(lines[index])
            index = close + 1 if close is not None else index + 1
        if len(unclosed) > MAX_UNCLOSED_FENCES:
            self.tripped = (
                unclosed[0],
                f"più di {MAX_UNCLOSED_FENCES} blocchi di codice (```) aperti e mai chiusi: "
                "chiudi ciascuno con una riga uguale a quella di apertura",
            )
            return []
        return lines


class _BracketGuard(_Guard):
    def run(self, lines: list[str]) -> list[str]:
        count, first = 0, None
        for line in lines:
            if not line.strip():
                count, first = 0, None
                continue
            if first is None:
                first = line
            count += line.count("[")
            if count > MAX_BRACKETS_PER_BLOCK:
                self.tripped = (
                    first,
                    f"paragrafo con più di {MAX_BRACKETS_PER_BLOCK} parentesi quadre '[': "
                    "dividilo in paragrafi più brevi",
                )
                return []
        return lines


_DEEP_MARKERS = re.compile(
    rf"^(?:[ \t]*(?:[-*+]|\d{{1,9}}[.)])[ \t]+){{{MAX_NESTING + 1}}}"
    rf"|^(?:[ \t]*>){{{MAX_NESTING + 1}}}"
)


class _InlineGuard(Treeprocessor):
    """Empty the document when an element's inline text is over MAX_INLINE_CHARS."""

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        self.tripped: tuple[str, str] | None = None

    def run(self, root: etree.Element) -> None:
        for el in root.iter():
            for text in (el.text, el.tail):
                if text is not None and len(text) > MAX_INLINE_CHARS:
                    first = next((line for line in text.split("\n") if line.strip()), "")
                    self.tripped = (
                        first,
                        f"paragrafo, voce di elenco o cella di più di {MAX_INLINE_CHARS} "
                        "caratteri: dividilo in parti più brevi",
                    )
                    root.clear()
                    return


class _NestingGuard(_Guard):
    def run(self, lines: list[str]) -> list[str]:
        for line in lines:
            indent = len(line) - len(line.lstrip(" \t"))
            if indent > 4 * MAX_NESTING or _DEEP_MARKERS.match(line):
                self.tripped = (
                    line,
                    f"elenchi o citazioni annidati più di {MAX_NESTING} livelli (o una riga "
                    f"rientrata di più di {4 * MAX_NESTING} spazi): riduci l'annidamento",
                )
                return []
        return lines


def normalise_newlines(text: str) -> str:
    """Drop a byte-order mark and turn CRLF/CR line ends into LF."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


_TAG = re.compile(r"<[^<>]*>")


class _Headings(Treeprocessor):
    """Give every heading a unique anchor, and list the h2 and h3 for the table of contents.

    Replaces Python-Markdown's toc extension, whose work per heading grew with the number
    of headings: ``slugify`` of the text, then ``_1``, ``_2``… for repeats, each found in
    constant time; ``toc`` keeps (level, anchor, text) of the h2 and h3 headings.
    """

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        self.toc: list[tuple[int, str, str]] = []

    def run(self, root: etree.Element) -> None:
        used = {el.get("id") for el in root.iter() if el.get("id")}
        counters: dict[str, int] = {}
        for el in root.iter():
            if el.tag not in _HEADINGS or el.get("id"):
                continue
            text = "".join(el.itertext()).strip()
            if "\x02" in text:  # raw HTML kept aside by Python-Markdown: its text
                text = HTML_PLACEHOLDER_RE.sub(self._stashed_text, text)
            text = html_lib.unescape(text)
            base = slugify(text)
            anchor, number = base, counters.get(base, 0)
            while anchor in used:
                number += 1
                anchor = f"{base}_{number}"
            counters[base] = number
            used.add(anchor)
            el.set("id", anchor)
            level = int(el.tag[1])
            if level in (2, 3):
                self.toc.append((level, anchor, text))

    def _stashed_text(self, match: re.Match[str]) -> str:
        blocks = self.md.htmlStash.rawHtmlBlocks
        index = int(match.group(1))
        return _TAG.sub("", str(blocks[index])) if index < len(blocks) else ""

    def toc_html(self) -> str:
        """``<div class="toc"><ul>…</ul></div>``: h3 nested under the h2 before them."""
        div = etree.Element("div", {"class": "toc"})
        top = etree.SubElement(div, "ul")
        parent: etree.Element | None = None
        for level, anchor, text in self.toc:
            if level == 3 and parent is not None:
                sub = parent.find("ul")
                if sub is None:
                    sub = etree.SubElement(parent, "ul")
                item = etree.SubElement(sub, "li")
            else:
                item = etree.SubElement(top, "li")
                parent = item if level == 2 else None
            link = etree.SubElement(item, "a", {"href": f"#{anchor}"})
            link.text = text
        return etree.tostring(div, encoding="unicode", method="html")


def _sanitise(html: str, media_prefix: str, *, inline: bool) -> tuple[str, tuple[Reference, ...]]:
    """Clean HTML, and the references in it: those kept, then those whose URL was dropped."""
    clean = _cleaner(inline, None).clean(html)
    kept = _clean_references(clean)
    blocked: list[Reference] = []
    if _URL_ATTRIBUTE.search(html):  # the raw HTML is read only when it has URLs
        blocked = [
            Reference(ref.kind, ref.url, ref.alt, blocked=True)
            for ref in _references(html)
            if _scheme(ref.url) not in ("", *_URL_SCHEMES)
        ]
    if MEDIA_DIR in clean:  # links into media/ are rewritten to media_prefix
        clean = _cleaner(inline, media_prefix).clean(clean)
    return clean, (*kept, *blocked)


_URL_ATTRIBUTE = re.compile(r"\b(?:href|src)\s*=", re.I)
#: A link or image tag as the sanitiser writes it: attribute values in double quotes,
#: with any double quote inside escaped.
_CLEAN_TAG = re.compile(r'<(?P<tag>a|img)(?P<attrs>(?:\s+[^\s=/>"]+(?:="[^"]*")?)*)\s*/?>')
_CLEAN_ATTRIBUTE = re.compile(r'([^\s=/>"]+)(?:="([^"]*)")?')


def _clean_references(clean: str) -> list[Reference]:
    """The links and images of sanitised HTML (well-formed: read with a regex, linearly)."""
    references: list[Reference] = []
    for match in _CLEAN_TAG.finditer(clean):
        values = {
            name.lower(): html_lib.unescape(value) if value is not None else ""
            for name, value in _CLEAN_ATTRIBUTE.findall(match["attrs"])
        }
        if match["tag"] == "a" and "href" in values:
            references.append(Reference("link", values["href"]))
        elif match["tag"] == "img":
            references.append(Reference("image", values.get("src", ""), values.get("alt")))
    return references


def _references(html: str) -> list[Reference]:
    collector = _ReferenceCollector()
    collector.feed(html)
    collector.close()
    return collector.references


def _scheme(url: str) -> str:
    compact = "".join(url.split())
    try:
        return urlsplit(compact).scheme.lower()
    except ValueError:
        return "?"


@lru_cache(maxsize=32)
def _cleaner(inline: bool, media_prefix: str | None) -> nh3.Cleaner:
    tags = _INLINE_TAGS if inline else _BLOCK_TAGS
    attributes = {tag: attrs for tag, attrs in _ATTRIBUTES.items() if tag in tags}

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr == "class":
            return _filter_class(tag, value)
        if attr in ("width", "height"):
            return value if value.isdigit() and len(value) <= 5 else None
        if media_prefix is not None and (tag, attr) in (("a", "href"), ("img", "src")):
            return _rewrite_media(value, media_prefix)
        return value

    return nh3.Cleaner(
        tags=tags,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=attributes,
        attribute_filter=attribute_filter,
        url_schemes=_URL_SCHEMES,
        strip_comments=True,
        link_rel="noopener noreferrer",
    )


def _filter_class(tag: str, value: str) -> str | None:
    if tag == "div":
        return "toc" if value.split() == ["toc"] else None
    if tag == "code":
        kept = [
            c
            for c in value.split()
            if c.startswith("language-") and len(c) > 9 and set(c) <= _CODE_CLASS_CHARS
        ]
        return " ".join(kept[:1]) or None
    return None


def _rewrite_media(url: str, media_prefix: str) -> str:
    if media_path(url) is None:
        return url
    parts = urlsplit(url.strip())
    path = posixpath.normpath(parts.path)
    if not path.startswith(MEDIA_DIR + "/"):
        return url
    rewritten = media_prefix + path[len(MEDIA_DIR) + 1 :]
    if parts.query:
        rewritten += "?" + parts.query
    if parts.fragment:
        rewritten += "#" + parts.fragment
    return rewritten


class _ReferenceCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[Reference] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href") is not None:
            self.references.append(Reference("link", values["href"] or ""))
        elif tag == "img":
            self.references.append(Reference("image", values.get("src") or "", values.get("alt")))

    handle_startendtag = handle_starttag


# --------------------------------------------------------------------------- raw HTML report

#: Elements without content: never "unclosed".
_VOID_TAGS = {"area", "base", "br", "col", "embed", "frame", "hr", "img", "input", "link"}
_VOID_TAGS |= {"meta", "param", "source", "track", "wbr"}
_BACKTICKS = re.compile(r"`+")
_HTML_TOKEN = re.compile(
    r"!--|(?P<close>/)?(?P<tag>[A-Za-z][A-Za-z0-9-]*)(?=[\s/>])(?P<attrs>[^<>]*)(?P<end>/?>)?"
)
_HTML_ATTRIBUTE = re.compile(
    r"(?P<name>[^\s\"'>/=]+)(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?"
)


def mask_code_spans(line: str) -> str:
    """``line`` with its code spans (`` `x` ``, ``` ``x`` ```) blanked out, in linear time.

    A run of backticks opens a span that the next run of the same length closes.
    """
    if "`" not in line:
        return line
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(line)]
    following: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = runs[index][1] - runs[index][0]
        following[index] = last.get(length)
        last[length] = index
    parts: list[str] = []
    position = index = 0
    while index < len(runs):
        close = following[index]
        if close is None:
            index += 1
            continue
        start, end = runs[index][0], runs[close][1]
        parts.append(line[position:start])
        parts.append(" " * (end - start))
        position, index = end, close + 1
    parts.append(line[position:])
    return "".join(parts)


@dataclass(frozen=True)
class HtmlNote:
    """Raw HTML the sanitiser will change, at a 1-based ``line``."""

    line: int
    message: str
    severity: Literal["error", "warning"]


def raw_html_notes(lines: Sequence[tuple[int, str]]) -> list[HtmlNote]:
    """What the allow-list will remove from raw HTML written in Markdown prose lines.

    ``lines`` are (file line, text) pairs without fenced code and quiz blocks. A removed
    tag, attribute or comment is a warning ("sarà rimosso"); an element that is removed
    with its content and never closed is an error, since it would remove everything
    that follows. Code spans are skipped; the scan is linear in the text.
    """
    notes: list[HtmlNote] = []
    open_dropped: list[tuple[str, int]] = []  # (tag, line) of dropped elements still open
    in_comment = False
    for number, text in lines:
        if "<" not in text and not in_comment:
            continue
        scan = mask_code_spans(text)
        position = 0
        if in_comment:
            end = scan.find("-->")
            if end < 0:
                continue
            in_comment, position = False, end + 3
        while True:
            start = scan.find("<", position)
            if start < 0:
                break
            if start > 0 and scan[start - 1] == "\\":
                position = start + 1
                continue
            match = _HTML_TOKEN.match(scan, start + 1)
            if match is None:
                position = start + 1
                continue
            position = match.end()
            if match.group(0) == "!--":
                notes.append(HtmlNote(number, "il commento HTML sarà rimosso", "warning"))
                end = scan.find("-->", position)
                if end < 0:
                    in_comment = True
                    break
                position = end + 3
                continue
            tag = match["tag"].lower()
            if open_dropped and tag != open_dropped[-1][0]:
                continue  # inside <script>, <style>…: text, not tags
            if match["close"]:
                if open_dropped and open_dropped[-1][0] == tag:
                    open_dropped.pop()
                continue
            self_closing = (match["end"] or "").startswith("/")
            if tag in _DROP_WITH_CONTENT:
                notes.append(
                    HtmlNote(
                        number,
                        f"l'elemento <{tag}> sarà rimosso insieme al suo contenuto: i lettori "
                        "non lo vedranno",
                        "warning",
                    )
                )
                if not self_closing and tag not in _VOID_TAGS:
                    open_dropped.append((tag, number))
                continue
            if tag not in _BLOCK_TAGS:
                notes.append(
                    HtmlNote(
                        number,
                        f"il tag <{tag}> non è ammesso e sarà rimosso (il suo testo resta)",
                        "warning",
                    )
                )
                continue
            allowed = _ATTRIBUTES.get(tag, set())
            for attribute in _HTML_ATTRIBUTE.finditer(match["attrs"] or ""):
                name = attribute["name"].lower()
                if name not in allowed:
                    notes.append(
                        HtmlNote(
                            number,
                            f"l'attributo '{name}' di <{tag}> non è ammesso e sarà rimosso",
                            "warning",
                        )
                    )
    for tag, number in open_dropped[:1]:
        notes.append(
            HtmlNote(
                number,
                f"l'elemento <{tag}> aperto qui non è mai chiuso: tutto il testo che segue "
                f"sarebbe rimosso; chiudilo con </{tag}>",
                "error",
            )
        )
    return notes
