"""Markdown shapes that make renderers super-linear, each as large as a source may be.

The corpus of ``bench/markdown_render.py`` (``make bench-markdown``, which prints each
shape's time) and of ``tests/content/test_render_bounds.py`` (which checks structure,
never time). Each shape is a function of the number of characters it may take.
"""

from __future__ import annotations

from collections.abc import Callable

from lgnetforma.content.render import (
    MAX_HEADINGS,
    MAX_INLINE_CHARS,
    MAX_NESTING,
    MAX_SOURCE_CHARS,
)

FRONT_MATTER = "---\ntitle: Modulo\nduration: 30\n---\n"


def _fill(unit: str, budget: int) -> str:
    return unit * max(1, budget // len(unit))


def _depth(budget: int, cost: Callable[[int], int]) -> int:
    """How many nesting levels fit in ``budget`` characters when level i costs cost(i)."""
    total = depth = 0
    while total + cost(depth) <= budget:
        total += cost(depth)
        depth += 1
    return depth


def _nested_list(n: int, indent: int) -> str:
    return "".join(" " * (indent * i) + "- x\n" for i in range(_depth(n, lambda i: indent * i + 4)))


def _deepest_lists(n: int) -> str:
    block = "".join(" " * (4 * i) + "- x\n" for i in range(MAX_NESTING)) + "\n"
    return _fill(block, n)


def _deepest_quotes(n: int) -> str:
    block = "".join(">" * (i + 1) + " x\n" for i in range(MAX_NESTING)) + "\n"
    return _fill(block, n)


def _halves(first: str, second: str) -> Callable[[int], str]:
    return lambda n: _fill(first, n // 2) + "\n\n" + _fill(second, n // 2)


def _paragraphs(unit: str) -> Callable[[int], str]:
    """Paragraphs of ``unit`` just under MAX_INLINE_CHARS, as many as fit."""
    return lambda n: _fill(_fill(unit, MAX_INLINE_CHARS - len(unit)) + "\n\n", n)


SHAPES: dict[str, Callable[[int], str]] = {
    "same-heading": lambda n: _fill("## h\n", n),
    "headings-and-text": lambda n: _fill("## Sezione\n\nTesto.\n\n", n),
    "headings-at-limit": lambda n: (
        _fill("## h\n", 5 * MAX_HEADINGS)
        + _fill("Testo di un paragrafo.\n\n", n - 5 * MAX_HEADINGS - 1)
    ),
    "setext-at-limit": lambda n: (
        _fill("h\n-\n", 4 * MAX_HEADINGS)
        + _fill("Testo di un paragrafo.\n\n", n - 4 * MAX_HEADINGS - 1)
    ),
    "setext-headings": lambda n: _fill("h\n-\n", n),
    "rules": lambda n: _fill("a\n***\n", n),
    "autolink-openers": lambda n: _fill("<http://", n),
    "autolinks": lambda n: _fill("<http://a.it> ", n),
    "html-openers": lambda n: _fill("<a ", n),
    "html-openers-closed-at-end": lambda n: _fill("<a ", n - 1) + ">",
    "quoted-attribute-openers": lambda n: _fill('<a b="', n),
    "unclosed-tags": lambda n: _fill("<span>", n),
    "nested-lists": lambda n: _nested_list(n, 2),
    "nested-lists-4": lambda n: _nested_list(n, 4),
    "lists-at-max-depth": _deepest_lists,
    "quotes-at-max-depth": _deepest_quotes,
    "nested-blockquotes": lambda n: "".join(
        ">" * i + " x\n" for i in range(_depth(n, lambda i: i + 3))
    ),
    "deep-blockquote": lambda n: ">" * (n - 2) + " x",
    "deep-spaced-quotes": lambda n: _fill("> ", n) + "x",
    "deep-list-markers": lambda n: _fill("- ", n) + "x",
    "emphasis-run": lambda n: _fill("*a", n),
    "emphasis-paragraphs": _paragraphs("*a"),
    "code-span-paragraphs": _paragraphs("`a"),
    "entity-paragraphs": _paragraphs("&amp;"),
    "link-paragraphs": _paragraphs("[a](https://a.it) "),
    "emphasis-openers": lambda n: _fill("*", n) + "a",
    "underscore-run": lambda n: _fill("_a ", n),
    "strong-em-mix": lambda n: _fill("***a**", n),
    "code-backticks": lambda n: _fill("`a", n),
    "backtick-runs": lambda n: "".join("`" * (i % 50 + 1) + "a" for i in range(n // 27)),
    "many-links": lambda n: _fill("[a](https://a.it) ", n),
    "link-brackets": lambda n: _fill("[", n // 2),
    "link-parens": lambda n: "[a](" + _fill("(", n - 4),
    "reference-links": _halves("[a][r] ", "[r]: https://a.it\n"),
    "reference-definitions": lambda n: "".join(
        f"[r{i}]: https://a.it/{i}\n" for i in range(n // 24)
    ),
    "footnote-like": _halves("[^1] ", "[^1]: nota\n"),
    "images": lambda n: _fill("![a](media/a.png) ", n),
    "table-rows": lambda n: "| a | b |\n| - | - |\n" + _fill("| x | y |\n", n - 20),
    "wide-table": lambda n: "|" + _fill(" a |", n // 2 - 2) + "\n|" + _fill(" - |", n // 2 - 2),
    "pipes-and-headings": lambda n: _fill("| a | b |\n## h\n", n),
    "unclosed-fences": lambda n: _fill("```js\n~~~py\n", n),
    "code-fences": lambda n: _fill("```\nx\n```\n", n),
    "entities": lambda n: _fill("&#106;", n),
    "html-comments": lambda n: _fill("<!-- ", n),
    "raw-html-blocks": lambda n: _fill("<div>\nx\n</div>\n\n", n),
    "long-line": lambda n: "a" * n,
    "blank-lines": lambda n: "\n" * n,
    "quiz-questions": lambda n: "```quiz\n" + _fill("? D\n- [x] a\n- [ ] b\n", n - 12) + "```\n",
}


def adversarial_module(name: str) -> str:
    """A module whose body is the shape ``name``, the whole file MAX_SOURCE_CHARS long."""
    body = SHAPES[name](MAX_SOURCE_CHARS - len(FRONT_MATTER))
    return (FRONT_MATTER + body)[:MAX_SOURCE_CHARS]
