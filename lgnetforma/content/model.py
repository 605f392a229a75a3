"""The structured form of a course, as produced by the parser.

Everything here is an immutable value: the parser builds it once, the importer stores it,
the views read it. Nothing in this module knows the Markdown syntax.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

Severity = Literal["error", "warning"]
QuestionKind = Literal["single", "multiple", "short"]
CourseStatus = Literal["draft", "published"]

QUESTION_KINDS: tuple[QuestionKind, ...] = ("single", "multiple", "short")


@dataclass(frozen=True)
class Problem:
    """A validation problem, located at a 1-based line of a file."""

    path: str
    line: int
    message: str
    severity: Severity = "error"
    #: The review check that found it (``W1``…``W9``, ``D1``, ``D2`` of
    #: docs/course-format.md); empty for the rules of the syntax.
    code: str = ""

    def __str__(self) -> str:
        tag = f" [{self.code}]" if self.code else ""
        if self.severity == "warning":
            return f"{self.path}:{self.line}: warning: {self.message}{tag}"
        return f"{self.path}:{self.line}: {self.message}{tag}"


@dataclass(frozen=True)
class Option:
    """One option of a choice question; ``key`` is "1", "2", … in source order."""

    key: str
    text_md: str
    text_html: str
    correct: bool


@dataclass(frozen=True)
class Question:
    """A quiz question; ``number`` is 1-based, ``line`` the line of its ``?``."""

    number: int
    kind: QuestionKind
    text_md: str
    text_html: str
    options: tuple[Option, ...]
    answers: tuple[str, ...]
    feedback_md: str
    feedback_html: str
    line: int

    @property
    def correct_keys(self) -> frozenset[str]:
        """Keys of the correct options (empty for short-answer questions)."""
        return frozenset(option.key for option in self.options if option.correct)


@dataclass(frozen=True)
class Quiz:
    """The quiz of a module. ``pass_mark`` is a fraction (0..1], ``attempts`` None = unlimited."""

    pass_mark: float
    attempts: int | None
    shuffle: bool
    questions: tuple[Question, ...]
    line: int

    def to_dict(self) -> dict[str, Any]:
        """Everything, correct answers included, as JSON-serialisable data (for storage)."""
        return {
            "pass_mark": self.pass_mark,
            "attempts": self.attempts,
            "shuffle": self.shuffle,
            "line": self.line,
            "questions": [
                {
                    "number": q.number,
                    "kind": q.kind,
                    "text_md": q.text_md,
                    "text_html": q.text_html,
                    "options": [
                        {
                            "key": o.key,
                            "text_md": o.text_md,
                            "text_html": o.text_html,
                            "correct": o.correct,
                        }
                        for o in q.options
                    ],
                    "answers": list(q.answers),
                    "feedback_md": q.feedback_md,
                    "feedback_html": q.feedback_html,
                    "line": q.line,
                }
                for q in self.questions
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Quiz:
        """Rebuild a quiz from :meth:`to_dict` output; raises ``ValueError`` if malformed."""
        try:
            questions = tuple(_question_from_dict(q) for q in data["questions"])
            attempts = data["attempts"]
            quiz = cls(
                pass_mark=float(data["pass_mark"]),
                attempts=None if attempts is None else int(attempts),
                shuffle=bool(data["shuffle"]),
                questions=questions,
                line=int(data.get("line", 0)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"quiz non valido: {exc!r}") from exc
        return quiz

    def public_dict(self) -> dict[str, Any]:
        """What the learner's browser may see before submitting: nothing about correctness.

        ``kind`` is kept because the page must know whether to offer radio buttons,
        checkboxes or a text field.
        """
        return {
            "pass_mark": self.pass_mark,
            "attempts": self.attempts,
            "shuffle": self.shuffle,
            "questions": [
                {
                    "number": q.number,
                    "kind": q.kind,
                    "text_html": q.text_html,
                    "options": [{"key": o.key, "text_html": o.text_html} for o in q.options],
                }
                for q in self.questions
            ],
        }


def _question_from_dict(data: Mapping[str, Any]) -> Question:
    kind = data["kind"]
    if kind not in QUESTION_KINDS:
        raise ValueError(f"tipo di domanda sconosciuto: {kind!r}")
    return Question(
        number=int(data["number"]),
        kind=kind,
        text_md=str(data["text_md"]),
        text_html=str(data["text_html"]),
        options=tuple(
            Option(
                key=str(o["key"]),
                text_md=str(o["text_md"]),
                text_html=str(o["text_html"]),
                correct=bool(o["correct"]),
            )
            for o in data["options"]
        ),
        answers=tuple(str(a) for a in data["answers"]),
        feedback_md=str(data["feedback_md"]),
        feedback_html=str(data["feedback_html"]),
        line=int(data.get("line", 0)),
    )


@dataclass(frozen=True)
class ModuleDoc:
    """A parsed module file ``NN-slug.md``; ``duration`` is in minutes."""

    filename: str
    slug: str
    position: int
    title: str
    duration: int
    objectives: tuple[str, ...]
    source: str
    body_html: str
    toc_html: str
    headings_count: int
    quiz: Quiz | None
    #: Minutes of the module's applied task (front matter ``activity``), part of its effort.
    activity: int = 0


@dataclass(frozen=True)
class CourseMeta:
    """What ``course.md`` says on its own (used by the editor and to build a CourseDoc)."""

    title: str
    summary: str
    cycle: str
    hours: float | int
    area: str | None
    pass_mark: float
    status: CourseStatus
    source: str
    description_html: str
    #: Date of the last expert review of the contents (front matter ``reviewed``).
    reviewed: date | None = None


@dataclass(frozen=True)
class CourseDoc:
    """A parsed course folder. ``media`` lists paths such as ``media/ciclo.png``."""

    slug: str
    title: str
    summary: str
    cycle: str
    hours: float | int
    area: str | None
    pass_mark: float
    status: CourseStatus
    source: str
    description_html: str
    modules: tuple[ModuleDoc, ...]
    media: tuple[str, ...]
    reviewed: date | None = None


@dataclass(frozen=True)
class ParseResult:
    """The outcome of parsing a course: ``course`` is None whenever there is an error."""

    course: CourseDoc | None
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors
