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
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension
from markdown.preprocessors import Preprocessor

MEDIA_DIR = "media"
TOC_MIN_HEADINGS = 3
# Python-Markdown is quadratic in the number of "[" of a paragraph (links) and in the
# number of unclosed ``` lines (fenced code): beyond these limits a document is not
# rendered at all, and the validator rejects it, instead of keeping a CPU busy for minutes.
MAX_BRACKETS_PER_BLOCK = 1000
MAX_UNCLOSED_FENCES = 20

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


def render_markdown(
    text: str, *, media_prefix: str = "media/", extensions: Sequence[Extension] = ()
) -> RenderedBody:
    """Render a Markdown document (module body, course description) to sanitised HTML.

    A document too heavy for Python-Markdown (see ``MAX_BRACKETS_PER_BLOCK`` and
    ``MAX_UNCLOSED_FENCES``) is not rendered at all: the result is empty and
    ``unrendered`` says why.
    """
    md = markdown.Markdown(
        extensions=[
            TableExtension(use_align_attribute=True),
            FencedCodeExtension(),
            TocExtension(permalink=False, slugify=slugify, toc_depth="2-3", marker=""),
            SaneListExtension(),
            *extensions,
        ],
        output_format="html",
    )
    # Quiz blocks are lifted out at 27 and fenced code is stashed at 25.
    guards = (_FenceGuard(md), _BracketGuard(md))
    md.preprocessors.register(guards[0], "lgnetforma_fence_guard", 26)
    md.preprocessors.register(guards[1], "lgnetforma_bracket_guard", 24)
    raw_html = md.convert(normalise_newlines(text))
    for guard in guards:
        if guard.tripped is not None:
            return RenderedBody("", "", 0, unrendered=guard.tripped)
    headings_count = _count_headings(getattr(md, "toc_tokens", []))
    html, references = _sanitise(raw_html, media_prefix, inline=False)
    toc_html = ""
    if headings_count >= TOC_MIN_HEADINGS:
        toc_html, _ = _sanitise(getattr(md, "toc", ""), media_prefix, inline=False)
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
    if text.count("[") > MAX_BRACKETS_PER_BLOCK:
        return html_lib.escape(text, quote=False), ()
    md = markdown.Markdown(output_format="html")
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


class _Guard(Preprocessor):
    """Empty the document when it would make Python-Markdown run for too long."""

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        #: (first line of the offending text, Italian explanation) once tripped.
        self.tripped: tuple[str, str] | None = None


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


def normalise_newlines(text: str) -> str:
    """Drop a byte-order mark and turn CRLF/CR line ends into LF."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _count_headings(tokens: Sequence[dict]) -> int:
    count = 0
    for token in tokens:
        if token.get("level") in (2, 3):
            count += 1
        count += _count_headings(token.get("children", []))
    return count


def _sanitise(html: str, media_prefix: str, *, inline: bool) -> tuple[str, tuple[Reference, ...]]:
    """Clean HTML, and the references in it: those kept, then those whose URL was dropped."""
    clean = _cleaner(inline, None).clean(html)
    kept = _references(clean)
    blocked = [
        Reference(ref.kind, ref.url, ref.alt, blocked=True)
        for ref in _references(html)
        if _scheme(ref.url) not in ("", *_URL_SCHEMES)
    ]
    return _cleaner(inline, media_prefix).clean(clean), (*kept, *blocked)


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
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_HTML_TOKEN = re.compile(
    r"!--|(?P<close>/)?(?P<tag>[A-Za-z][A-Za-z0-9-]*)(?=[\s/>])(?P<attrs>[^<>]*)(?P<end>/?>)?"
)
_HTML_ATTRIBUTE = re.compile(
    r"(?P<name>[^\s\"'>/=]+)(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?"
)


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
        scan = _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), text)
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
