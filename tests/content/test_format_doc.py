"""docs/course-format.md stays true: its examples are validated as they are written.

Blocks opened with ```markdown example=corso-esempio/FILE form one course, which must
validate with no error and no warning; each block opened with ```markdown check=NAME is
a file that must get exactly the problems NAME describes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lgnetforma.content import Problem, parse_course_dir, parse_module_text
from lgnetforma.paths import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "course-format.md"
_OPENING = re.compile(r"^(?P<fence>`{3,}|~{3,})markdown (?P<info>.*\S)\s*$")
_MEDIA = re.compile(r"media/[\w./-]*\w")

#: The problems a check example must get, besides its review codes (``Problem.code``).
NAMED = {
    "fence": ("error", "blocco di codice non chiuso"),
    "unclosed": ("error", "non è mai chiuso"),
    "removed": ("warning", "sarà rimosso"),
}


def _examples() -> list[tuple[int, str, str]]:
    """(line, info string, text) of every ``markdown`` block of the page with an info."""
    lines = DOC.read_text(encoding="utf-8").split("\n")
    found: list[tuple[int, str, str]] = []
    index = 0
    while index < len(lines):
        opening = _OPENING.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = lines.index(opening["fence"], index + 1)
        found.append((index + 1, opening["info"], "\n".join(lines[index + 1 : end]) + "\n"))
        index = end + 1
    return found


EXAMPLES = _examples()
COURSE = {
    info.removeprefix("example=corso-esempio/"): text
    for _, info, text in EXAMPLES
    if info.startswith("example=")
}
CHECKS = [(line, info, text) for line, info, text in EXAMPLES if info.startswith("check=")]


def _write_course(root: Path, files: dict[str, str]) -> Path:
    folder = root / "corso-esempio"
    (folder / "media").mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    for path in {m for text in files.values() for m in _MEDIA.findall(text)}:
        (folder / path).write_bytes(b"example")
    return folder


def test_the_page_has_the_examples():
    assert {"course.md", "01-indicatori.md", "02-compito-applicato.md"} <= set(COURSE)
    names = {name for _, info, _ in CHECKS for name in info.removeprefix("check=").split(" check=")}
    assert names >= {"D1", "D2", *(f"W{n}" for n in range(1, 10)), *NAMED}


def test_the_example_course_is_clean(tmp_path):
    result = parse_course_dir(_write_course(tmp_path, COURSE))
    assert [str(p) for p in result.problems] == []
    course = result.course
    assert course is not None and course.reviewed is not None and course.hours == 1.5
    first = course.modules[0]
    quiz = first.quiz
    assert first.activity == 20 and first.objectives and first.toc_html
    assert {q.kind for q in quiz.questions} == {"single", "multiple", "short"}
    assert any(len(q.options) == 2 for q in quiz.questions)  # true/false
    assert (quiz.pass_mark, quiz.attempts, quiz.shuffle) == (0.75, 3, True)
    assert any(q.feedback_md for q in quiz.questions)
    for html in ("<table>", "<ol>", "<blockquote>", "<img ", "<pre>", "<details>"):
        assert html in first.body_html, html


def _problems(tmp_path: Path, text: str) -> tuple[Problem, ...]:
    if text.startswith("---\ntitle: Il monitoraggio"):  # a course.md, with the example modules
        folder = _write_course(tmp_path, {**COURSE, "course.md": text})
        return parse_course_dir(folder).problems
    media = sorted(set(_MEDIA.findall(text)))
    return parse_module_text("01-esempio.md", text, media=media)[1]


@pytest.mark.parametrize(("line", "info", "text"), CHECKS, ids=[info for _, info, _ in CHECKS])
def test_each_check_example_gets_its_problem(tmp_path, line, info, text):
    names = info.removeprefix("check=").split(" check=")
    problems = _problems(tmp_path, text)
    codes = sorted({p.code for p in problems if p.code})
    assert codes == sorted(n for n in names if n not in NAMED), (line, [str(p) for p in problems])
    others = [(p.severity, p.message) for p in problems if not p.code]
    expected = [NAMED[n] for n in names if n in NAMED]
    for severity, message in others:  # nothing unexpected
        assert any(severity == s and f in message for s, f in expected), (line, others)
    for severity, fragment in expected:  # and what is described is there
        assert any(severity == s and fragment in m for s, m in others), (line, others)
