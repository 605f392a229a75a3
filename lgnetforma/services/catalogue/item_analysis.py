"""Item analysis for trainers: how learners do on each quiz and each question.

Figures are per module version, because a question's wording can change between versions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import case, func, select

from lgnetforma.content import Quiz, normalise_answer
from lgnetforma.extensions import db
from lgnetforma.models import Course, CourseVersion, Module, ModuleVersion, QuizAttempt


@dataclass(frozen=True)
class QuizOverview:
    version: ModuleVersion
    module: Module
    course_title: str
    attempts: int
    passed: int

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.attempts if self.attempts else None


def quizzes_overview() -> list[QuizOverview]:
    """Every module version with a quiz and its submitted attempts (one query)."""
    stats = (
        select(
            QuizAttempt.module_version_id.label("version_id"),
            func.count(QuizAttempt.id).label("attempts"),
            func.coalesce(func.sum(case((QuizAttempt.passed.is_(True), 1), else_=0)), 0).label(
                "passed"
            ),
        )
        .where(QuizAttempt.submitted_at.is_not(None))
        .group_by(QuizAttempt.module_version_id)
        .subquery()
    )
    rows = db.session.execute(
        select(ModuleVersion, Module, CourseVersion.title, stats.c.attempts, stats.c.passed)
        .join(Module, Module.id == ModuleVersion.module_id)
        .join(Course, Course.id == Module.course_id)
        .join(CourseVersion, CourseVersion.id == Course.current_version_id)
        .outerjoin(stats, stats.c.version_id == ModuleVersion.id)
        .where(ModuleVersion.quiz.is_not(None))
        .order_by(CourseVersion.title, Module.position, ModuleVersion.number.desc())
    ).all()
    return [
        QuizOverview(version, module, title, int(attempts or 0), int(passed or 0))
        for version, module, title, attempts, passed in rows
    ]


@dataclass(frozen=True)
class QuestionAnalysis:
    number: int
    text_html: str
    kind: str
    answered: int
    correct: int
    # The wrong answer chosen most often: an option's text, or a typed answer.
    top_wrong: str | None
    top_wrong_count: int

    @property
    def correct_rate(self) -> float | None:
        return self.correct / self.answered if self.answered else None


@dataclass(frozen=True)
class QuizAnalysis:
    version: ModuleVersion
    attempts: int
    passed: int
    with_answers: int
    questions: list[QuestionAnalysis]

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.attempts if self.attempts else None


def analyse(version: ModuleVersion) -> QuizAnalysis:
    """Attempts, pass rate and, per question, the share of correct answers and the wrong
    answer chosen most often."""
    quiz = Quiz.from_dict(version.quiz)
    attempts, passed = db.session.execute(
        select(
            func.count(QuizAttempt.id),
            func.coalesce(func.sum(case((QuizAttempt.passed.is_(True), 1), else_=0)), 0),
        ).where(QuizAttempt.module_version_id == version.id, QuizAttempt.submitted_at.is_not(None))
    ).one()
    answered: Counter[int] = Counter()
    correct: Counter[int] = Counter()
    wrong: dict[int, Counter[str]] = {q.number: Counter() for q in quiz.questions}
    kinds = {q.number: q.kind for q in quiz.questions}
    correct_keys = {q.number: q.correct_keys for q in quiz.questions}
    with_answers = 0
    rows = db.session.scalars(
        select(QuizAttempt.results)
        .where(QuizAttempt.module_version_id == version.id, QuizAttempt.results.is_not(None))
        .execution_options(yield_per=2000)
    )
    for results in rows:
        with_answers += 1
        for result in results:
            number = result["number"]
            if number not in kinds:
                continue
            answered[number] += 1
            if result["correct"]:
                correct[number] += 1
                continue
            if kinds[number] == "short":
                for typed in result["chosen"]:
                    wrong[number][normalise_answer(typed)] += 1
            else:
                for key in result["chosen"]:
                    if key not in correct_keys[number]:
                        wrong[number][key] += 1
    questions = []
    for question in quiz.questions:
        labels = {o.key: o.text_html for o in question.options}
        top = wrong[question.number].most_common(1)
        top_label, top_count = (None, 0)
        if top:
            top_label = labels.get(top[0][0], top[0][0]) if question.kind != "short" else top[0][0]
            top_count = top[0][1]
        questions.append(
            QuestionAnalysis(
                number=question.number,
                text_html=question.text_html,
                kind=question.kind,
                answered=answered[question.number],
                correct=correct[question.number],
                top_wrong=top_label,
                top_wrong_count=top_count,
            )
        )
    return QuizAnalysis(version, int(attempts), int(passed), with_answers, questions)
