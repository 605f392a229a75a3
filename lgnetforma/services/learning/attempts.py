"""Quiz attempts: started with their own option order, graded on the server and submitted
exactly once."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from lgnetforma.content import AnswerError, Quiz, grade
from lgnetforma.extensions import db
from lgnetforma.models import (
    CourseCompletion,
    Cycle,
    Module,
    QuizAttempt,
    User,
    utcnow,
)
from lgnetforma.services.learning.allowances import attempt_allowance
from lgnetforma.services.learning.completion import _complete_module
from lgnetforma.services.learning.enrolment import _touch, enrolment_for
from lgnetforma.services.platform.cycles import ensure_cycle_open
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.reporting import tallies

# --- quiz attempts ---------------------------------------------------------------------


def attempts_of(user: User, module: Module, cycle: Cycle) -> list[QuizAttempt]:
    return list(
        db.session.scalars(
            select(QuizAttempt)
            .where(
                QuizAttempt.user_id == user.id,
                QuizAttempt.module_id == module.id,
                QuizAttempt.cycle_id == cycle.id,
            )
            .order_by(QuizAttempt.number)
        )
    )


def start_attempt(user: User, module: Module, cycle: Cycle) -> QuizAttempt:
    """The open attempt of the module's current quiz, or a new one if attempts remain."""
    ensure_cycle_open(cycle)
    version = module.current_version
    if version is None or version.quiz is None:
        raise ServiceError(_l("Questo modulo non ha un questionario."))
    enrolment = enrolment_for(user, module.course, cycle)
    if enrolment is None:
        raise ServiceError(_l("Iscriviti al corso per compilare il questionario."))
    quiz = Quiz.from_dict(version.quiz)
    attempts = attempts_of(user, module, cycle)
    if any(a.passed for a in attempts):
        raise ServiceError(_l("Hai già superato questo questionario."))
    for attempt in attempts:
        if not attempt.is_submitted and attempt.module_version_id == version.id:
            return attempt
    allowance = attempt_allowance(user, module, cycle)
    if allowance.used_up:
        raise ServiceError(
            lazy_ngettext(
                "Hai esaurito l'unico tentativo a disposizione per questo questionario.",
                "Hai esaurito i %(num)d tentativi a disposizione per questo questionario.",
                allowance.allowed or 0,
            )
        )
    attempt = QuizAttempt(
        public_id=secrets.token_urlsafe(16),
        user_id=user.id,
        module_id=module.id,
        module_version_id=version.id,
        cycle_id=cycle.id,
        number=(max((a.number for a in attempts), default=0)) + 1,
        option_order=_shuffled_order(quiz) if quiz.shuffle else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
    except IntegrityError as exc:
        raise ServiceError(
            _l("Il questionario è già stato aperto in un'altra finestra: ricarica la pagina.")
        ) from exc
    _touch(enrolment)
    return attempt


def _shuffled_order(quiz: Quiz) -> dict[str, list[str]]:
    rng = random.SystemRandom()
    order = {}
    for question in quiz.questions:
        keys = [option.key for option in question.options]
        rng.shuffle(keys)
        order[str(question.number)] = keys
    return order


def attempt_by_public_id(public_id: str, user: User) -> QuizAttempt:
    """The user's own attempt; anything else (wrong id, someone else's) is not found."""
    attempt = db.session.scalar(
        select(QuizAttempt)
        .options(
            joinedload(QuizAttempt.module).joinedload(Module.course),
            joinedload(QuizAttempt.module_version),
            joinedload(QuizAttempt.cycle),
        )
        .where(QuizAttempt.public_id == public_id)
    )
    if attempt is None or attempt.user_id != user.id:
        raise LookupError(public_id)
    return attempt


@dataclass(frozen=True)
class Submission:
    attempt: QuizAttempt
    first_time: bool  # False when this was a repeat (double click, retry, second tab)
    completion: CourseCompletion | None = None  # the course this submission completed


def submit_attempt(attempt: QuizAttempt, answers: dict[int, list[str] | str]) -> Submission:
    """Grade and record an attempt exactly once, whatever the number of concurrent submits.

    Raises ServiceError (and records nothing) for a missing or foreign answer, or when the
    attempt's cycle has been closed meanwhile.
    """
    if attempt.is_submitted:
        return Submission(attempt, first_time=False)
    ensure_cycle_open(attempt.cycle)
    quiz = Quiz.from_dict(attempt.module_version.quiz)
    try:
        result = grade(quiz, answers)
    except AnswerError as error:
        raise ServiceError(
            _l("Domanda %(n)s: %(message)s.", n=error.question_number, message=error.message),
            field=f"q{error.question_number}",
        ) from error
    stored_answers = {str(r.number): list(r.chosen) for r in result.per_question}
    results = [
        {"number": r.number, "correct": r.correct, "chosen": list(r.chosen)}
        for r in result.per_question
    ]
    # The conditional update is the lock: of any number of concurrent submissions, exactly
    # one finds the attempt still open.
    values = {
        "submitted_at": utcnow(),
        "answers": stored_answers,
        "results": results,
        "score": result.score,
        "passed": result.passed,
    }
    outcome = db.session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt.id, QuizAttempt.submitted_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    first_time = outcome.rowcount == 1
    if first_time:  # the row now holds exactly these values
        for name, value in values.items():
            set_committed_value(attempt, name, value)
    else:  # another submission won: show what it recorded
        db.session.refresh(attempt)
    if first_time:
        tallies.record_attempt(
            attempt, course_id=attempt.module.course_id, comune_id=attempt.user.comune_id
        )
        enrolment = enrolment_for(attempt.user, attempt.module.course, attempt.cycle)
        _touch(enrolment)
        if result.passed:
            completion = _complete_module(
                attempt.user, attempt.module, attempt.module_version, attempt.cycle, attempt=attempt
            )
            return Submission(attempt, first_time=True, completion=completion)
    return Submission(attempt, first_time=first_time)
