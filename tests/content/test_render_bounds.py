"""Bounded rendering (issue 11, item 4): structure, never time, on the adversarial shapes.

Times are printed by ``make bench-markdown`` (bench/markdown_render.py) at the full
200,000-character limit; here every shape is rendered at a tenth of it and checked for
what the fixes must keep: the same text and anchors, unique ids, no internal error, and
a clear refusal where a shape is bounded instead of rendered.
"""

from __future__ import annotations

import re
from collections import Counter

import markdown
import pytest

from lgnetforma.content import parse_module_text, preview_module_text, render_markdown
from lgnetforma.content.adversarial import FRONT_MATTER, SHAPES, adversarial_module
from lgnetforma.content.render import (
    MAX_HEADINGS,
    MAX_INLINE_CHARS,
    MAX_NESTING,
    MAX_SOURCE_CHARS,
)
from tests.content.test_render import assert_safe

SIZE = MAX_SOURCE_CHARS // 10


@pytest.mark.parametrize("name", list(SHAPES))
def test_every_shape_parses_without_internal_error(name):
    text = FRONT_MATTER + SHAPES[name](SIZE)
    doc, problems = parse_module_text("01-modulo.md", text, media=("media/a.png",))
    assert not [p for p in problems if "errore interno" in p.message], problems
    if doc is not None:
        assert_safe(doc.body_html)


@pytest.mark.parametrize("name", ["headings-at-limit", "setext-at-limit"])
def test_repeated_headings_get_unique_ids(name):
    rendered = render_markdown(SHAPES[name](MAX_SOURCE_CHARS))
    ids = re.findall(r'<h\d id="([^"]+)"', rendered.html)
    assert len(ids) == MAX_HEADINGS
    assert len(set(ids)) == len(ids)
    assert ids[:3] == ["h", "h_1", "h_2"]


@pytest.mark.parametrize("name", ["same-heading", "setext-headings", "rules"])
def test_more_headings_than_the_limit_are_refused_at_the_first_one_over(name):
    text = FRONT_MATTER + SHAPES[name](SIZE)
    _, problems = parse_module_text("01-modulo.md", text, media=())
    errors = [(p.line, p.message) for p in problems if p.severity == "error"]
    assert len(errors) == 1 and f"più di {MAX_HEADINGS} titoli" in errors[0][1]


SAMPLES = [
    "Testo\n## Uno\nTesto\nDue\n---\nTre\n===\n* * *\n# Quattro",
    "- a\n# H\n",
    "> q\n# H\n",
    "a\n---\nb\n",
    "- a\n---\n",
    "x\n    ## h\n",
    "- a\n\n    ## h\n",
    "| a | b |\n| - | - |\n| 1 | 2 |\n## h\n",
    "a <b>c</b> <http://a.it> d < e\n\n<div>\nblocco\n</div>\n",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_same_structure_as_python_markdown(text):
    """The fixes change the work, not the document: tags as plain Python-Markdown's."""
    ours = render_markdown(text).html
    plain = markdown.markdown(text, extensions=["tables"])
    assert re.findall(r"<(/?\w+)", ours) == re.findall(r"<(/?\w+)", plain)


def test_table_of_contents_nests_h3_under_h2_with_unique_anchors():
    rendered = render_markdown("# T\n\n## A\n\n### B\n\n## A\n\n### B\n\n#### C\n")
    assert rendered.headings_count == 4
    assert re.findall(r'href="#([^"]+)"', rendered.toc_html) == ["a", "b", "a_1", "b_1"]
    assert rendered.toc_html.count("<ul>") == 3  # the list and one per h2 with h3


@pytest.mark.parametrize("name", ["html-openers", "autolink-openers", "quoted-attribute-openers"])
def test_unfinished_tags_are_shown_as_text(name):
    body = SHAPES[name](MAX_INLINE_CHARS - 10)
    rendered = render_markdown(body)
    assert rendered.html.count("&lt;") == body.count("<")
    assert "\ue000" not in rendered.html


def test_tags_with_a_closing_bracket_are_still_tags():
    rendered = render_markdown("a <b>grassetto</b> <http://a.it> <a " + "x" * 5000 + " b")
    assert "<strong>" not in rendered.html and "<b>grassetto</b>" in rendered.html
    assert 'href="http://a.it"' in rendered.html
    assert "&lt;a xxx" in rendered.html


@pytest.mark.parametrize("name", ["deep-list-markers", "deep-spaced-quotes", "nested-lists-4"])
def test_too_deep_nesting_is_refused_at_its_line(name):
    text = FRONT_MATTER + SHAPES[name](SIZE)
    _, problems = parse_module_text("01-modulo.md", text, media=())
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 1 and f"più di {MAX_NESTING} livelli" in errors[0].message
    assert errors[0].line >= 5


def test_nesting_up_to_the_limit_renders():
    body = SHAPES["lists-at-max-depth"](SIZE)
    rendered = render_markdown(body)
    assert rendered.unrendered is None
    assert rendered.html.count("<ul>") == rendered.html.count("</ul>") > MAX_NESTING
    assert "<li>x<ul>\n" * (MAX_NESTING - 3) in rendered.html


def test_quiz_questions_keep_their_order_and_text():
    text = adversarial_module("quiz-questions")
    doc, _ = parse_module_text("01-modulo.md", text, media=())
    questions = doc.quiz.questions
    assert len(questions) == Counter(text.split("\n"))["? D"]
    assert {q.text_html for q in questions} == {"D"}
    assert [q.line for q in questions[:2]] == [6, 9]


@pytest.mark.parametrize("name", ["long-line", "emphasis-run", "code-backticks"])
def test_a_paragraph_over_the_inline_limit_is_refused_at_its_line(name):
    text = FRONT_MATTER + "# Titolo\n\nTesto.\n\n" + SHAPES[name](SIZE)
    _, problems = parse_module_text("01-modulo.md", text, media=())
    errors = [(p.line, p.message) for p in problems if p.severity == "error"]
    assert errors == [
        (
            9,
            f"paragrafo, voce di elenco o cella di più di {MAX_INLINE_CHARS} caratteri: "
            "dividilo in parti più brevi",
        )
    ]


def test_over_the_limit_is_refused_unread():
    text = FRONT_MATTER + "## h\n" * (MAX_SOURCE_CHARS // 5)
    assert len(text) > MAX_SOURCE_CHARS
    doc, problems = parse_module_text("01-modulo.md", text, media=())
    assert doc is None and [p.line for p in problems] == [1]
    assert "troppo lungo" in problems[0].message
    preview = preview_module_text("01-modulo.md", text, media=())
    assert (preview.html, preview.toc_html) == ("", "")


def test_private_use_character_of_the_author_is_kept():
    body = "\ue000 e " + "<a " * 2000 + "\n\n<b>b</b> \ue000"
    html = render_markdown(body).html
    assert html.count("\ue000") == 2 and html.count("&lt;a") == 2000 and "<b>b</b>" in html
