"""Property tests: arbitrary text never breaks the validator; quizzes survive storage."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgnetforma.content import (
    AnswerError,
    Option,
    ParseResult,
    Question,
    Quiz,
    grade,
    normalise_answer,
    parse_course_files,
    parse_module_text,
    render_inline,
    render_markdown,
)
from tests.content.test_render import XSS_PAYLOADS, assert_safe

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAGMENTS = [
    "---",
    "--- ",
    "...",
    "title: Modulo",
    "title: 'aperto",
    "title:",
    "duration: 30",
    "duration: -1",
    "duration: 2025-13-45",
    "hours: 6",
    "hours: .nan",
    "cycle: 2025-2026",
    "pass: 70%",
    "status: draft",
    "objectives:",
    "  - obiettivo",
    "  - [a, b]",
    "autore: x",
    "[a]: b",
    "? [k]",
    "&a x",
    "*a",
    "key: *undefined",
    "!!python/object:os.system x",
    "\t",
    "```quiz",
    "```quiz pass=80% attempts=3 shuffle",
    "```quiz pass=0% attempts=x colore",
    "~~~quiz",
    "  ```quiz",
    "```",
    "~~~",
    "```python",
    "~~~markdown",
    "? ",
    "?",
    "? Domanda **forte**",
    "- [x] ",
    "- [x] giusta",
    "- [ ] sbagliata",
    "- [X] ![img](media/a.png)",
    "- [v] rotta",
    "- []",
    "= ",
    "= risposta",
    "=",
    "> ",
    "> commento <script>alert(1)</script>",
    ">",
    "# Titolo",
    "## Sezione",
    "### Sotto",
    "![](media/nope.png)",
    "[x](media/a.png)",
    "[y](javascript:alert(1))",
    '<img src="media/a.png" onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "<div>",
    "</div>",
    "| a | b |",
    "|---|---|",
    "    codice",
    "1. uno",
    "* punto",
    "[TOC]",
    "{: #id onclick=x }",
    "\x02\x03",
    "\ufeff",
    "\r",
    "",
    "Testo normale con àccenti.",
]

line = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.text(max_size=30),
    st.builds(lambda a, b: a + b, st.sampled_from(FRAGMENTS), st.text(max_size=10)),
)
document = st.one_of(
    st.text(max_size=300),
    st.lists(line, max_size=40).map("\n".join),
    st.lists(line, max_size=30).map(lambda lines: "---\n" + "\n".join(lines)),
    st.lists(line, max_size=30).map(
        lambda lines: "---\ntitle: M\nduration: 5\n---\n```quiz\n" + "\n".join(lines)
    ),
    st.lists(line, max_size=30).map(
        lambda lines: "---\ntitle: M\nduration: 5\n---\n" + "\n".join(lines)
    ),
)
filename = st.one_of(
    st.sampled_from(["01-a.md", "1-a.md", "02-media.md", "a.md", "01-A.md", "", "../x.md"]),
    st.just("01-a.md"),
    st.text(max_size=20),
)
media = st.lists(
    st.one_of(st.sampled_from(["media/a.png", "a.png", "./media/a.png", ""]), st.text(max_size=15)),
    max_size=4,
)


def _no_internal_errors(problems) -> None:
    for problem in problems:
        assert "errore interno" not in problem.message, problem
        assert problem.line >= 1
        assert problem.severity in ("error", "warning")
        assert str(problem)


@SETTINGS
@given(name=filename, text=document, files=media, default_pass=st.floats(0.01, 1.0))
def test_parse_module_text_never_raises(name, text, files, default_pass):
    doc, problems = parse_module_text(name, text, media=files, default_pass=default_pass)
    _no_internal_errors(problems)
    has_errors = any(p.severity == "error" for p in problems)
    assert (doc is None) == has_errors
    if doc is not None:
        assert "<script" not in doc.body_html
    if doc is not None and doc.quiz is not None:
        assert Quiz.from_dict(json.loads(json.dumps(doc.quiz.to_dict()))) == doc.quiz
        for question in doc.quiz.questions:
            assert "<script" not in question.text_html
            assert all("<script" not in o.text_html for o in question.options)


@SETTINGS
@given(
    slug=st.one_of(st.just("corso"), st.text(max_size=12)),
    course_md=document,
    modules=st.dictionaries(filename, document, max_size=3),
    files=media,
)
def test_parse_course_files_never_raises(slug, course_md, modules, files):
    result = parse_course_files(slug, course_md, modules, files, base_path="courses/x")
    assert isinstance(result, ParseResult)
    _no_internal_errors(result.problems)
    assert (result.course is None) == (not result.ok)
    if result.course is not None:
        assert result.course.modules
        assert "<script" not in result.course.description_html


words = st.text(
    alphabet="abcdefghilmnopqrstuvzàèéìòù ABCZ0123456789.,'*_`", min_size=1, max_size=25
)
words = words.filter(
    lambda t: t.strip() and t.strip()[0] not in "?=>-*" and any(c.isalnum() for c in t)
)
choice = st.lists(st.tuples(st.booleans(), words), min_size=2, max_size=5).filter(
    lambda options: any(correct for correct, _ in options)
)
short = st.lists(words, min_size=1, max_size=3)
spec = st.lists(
    st.tuples(words, st.one_of(choice, short), st.one_of(st.none(), words)), min_size=1, max_size=6
)


def _quiz_source(questions) -> str:
    lines = ["---", "title: M", "duration: 5", "---", "", "```quiz pass=60%"]
    for text, body, feedback in questions:
        lines.append(f"? {text}")
        for item in body:
            if isinstance(item, tuple):
                lines.append(f"- [{'x' if item[0] else ' '}] {item[1]}")
            else:
                lines.append(f"= {item}")
        if feedback is not None:
            lines.append(f"> {feedback}")
        lines.append("")
    lines.append("```")
    return "\n".join(lines)


@SETTINGS
@given(spec)
def test_well_formed_quizzes_parse_to_the_same_structure(questions):
    doc, problems = parse_module_text("01-a.md", _quiz_source(questions), media=())
    assert doc is not None, problems
    parsed = doc.quiz.questions
    assert len(parsed) == len(questions)
    line = 7
    for q, (text, body, feedback) in zip(parsed, questions, strict=True):
        assert q.line == line
        line += len(body) + (2 if feedback is None else 3)
        assert q.text_md == text.strip()
        assert q.feedback_md == ("" if feedback is None else feedback.strip())
        if isinstance(body[0], tuple):
            assert [(o.correct, o.text_md) for o in q.options] == [(c, t.strip()) for c, t in body]
            assert q.kind == ("single" if sum(c for c, _ in body) == 1 else "multiple")
            answers = {n: sorted(q.correct_keys) for n in [q.number]}
        else:
            assert q.kind == "short"
            assert q.answers == tuple(a.strip() for a in body)
            answers = {q.number: body[0].upper()}
        assert grade(Quiz(1.0, None, False, (q,), 1), answers).passed
    assert Quiz.from_dict(json.loads(json.dumps(doc.quiz.to_dict()))) == doc.quiz


hostile = st.lists(
    st.one_of(st.sampled_from(XSS_PAYLOADS), st.sampled_from(FRAGMENTS), st.text(max_size=8)),
    max_size=12,
)


@SETTINGS
@given(hostile, st.sampled_from(["\n", " ", "\n\n", ""]))
def test_rendered_html_is_always_safe(parts, separator):
    text = separator.join(parts)
    assert_safe(render_markdown(text, media_prefix="/m/").html)
    assert_safe(render_inline(text))


def test_every_line_number_is_within_the_file():
    text = "---\ntitle: M\nduration: 5\n---\n```quiz\n? D\n- [x] a\n"
    _, problems = parse_module_text("01-a.md", text, media=())
    assert all(1 <= p.line <= text.count("\n") + 1 for p in problems)


# --------------------------------------------------------------------------- quiz round trip

short_text = st.text(max_size=40)
option = st.builds(
    Option, key=st.text(max_size=3), text_md=short_text, text_html=short_text, correct=st.booleans()
)
question = st.builds(
    Question,
    number=st.integers(1, 50),
    kind=st.sampled_from(["single", "multiple", "short"]),
    text_md=short_text,
    text_html=short_text,
    options=st.lists(option, max_size=5).map(tuple),
    answers=st.lists(short_text, max_size=3).map(tuple),
    feedback_md=short_text,
    feedback_html=short_text,
    line=st.integers(1, 10_000),
)
quiz = st.builds(
    Quiz,
    pass_mark=st.integers(1, 100).map(lambda n: n / 100),
    attempts=st.one_of(st.none(), st.integers(1, 20)),
    shuffle=st.booleans(),
    questions=st.lists(question, max_size=6).map(tuple),
    line=st.integers(1, 10_000),
)


@SETTINGS
@given(quiz)
def test_quiz_dict_round_trip(value):
    assert Quiz.from_dict(json.loads(json.dumps(value.to_dict()))) == value


@SETTINGS
@given(quiz)
def test_public_dict_has_no_correctness(value):
    public = value.public_dict()
    json.dumps(public)
    for q in public["questions"]:
        assert set(q) == {"number", "kind", "text_html", "options"}
        for o in q["options"]:
            assert set(o) == {"key", "text_html"}


@SETTINGS
@given(st.text(max_size=40))
def test_normalise_answer_is_idempotent(text):
    once = normalise_answer(text)
    assert normalise_answer(once) == once
    assert once == once.strip()
    assert "  " not in once


@SETTINGS
@given(
    correct=st.sets(st.sampled_from("1234"), min_size=1),
    chosen=st.one_of(st.text(max_size=3), st.lists(st.text(max_size=3), max_size=5)),
)
def test_grading_either_grades_or_raises_answer_error(correct, chosen):
    options = tuple(Option(k, k, k, k in correct) for k in "1234")
    kind = "single" if len(correct) == 1 else "multiple"
    q = Question(1, kind, "D", "D", options, (), "", "", 1)
    value = Quiz(0.7, None, False, (q,), 1)
    try:
        result = grade(value, {1: chosen})
    except AnswerError as exc:
        assert exc.question_number == 1
    else:
        picked = {chosen} if isinstance(chosen, str) else set(chosen)
        assert result.per_question[0].correct == (picked == correct)
        assert result.passed == result.per_question[0].correct
