"""Learning rules: enrolment, module views, quiz attempts graded on the server, completion.

Completion is stored with its time, cycle and the versions taken; it is never recomputed
away when content changes later. Once a cycle is closed its records are frozen: enrolment,
attempts and submissions are refused, module views are not recorded.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from lgnetforma.content import AnswerError, Quiz, grade
from lgnetforma.extensions import db
from lgnetforma.models import (
    Course,
    CourseCompletion,
    Cycle,
    Enrolment,
    Module,
    ModuleCompletion,
    ModuleVersion,
    ModuleView,
    QuizAttempt,
    Role,
    User,
    utcnow,
)
from lgnetforma.services import tallies
from lgnetforma.services.cycles import cycle_is_open, ensure_cycle_open
from lgnetforma.services.errors import ServiceError

# --- enrolment -------------------------------------------------------------------------


def enrolment_for(user: User, course: Course, cycle: Cycle) -> Enrolment | None:
    return db.session.scalar(
        select(Enrolment).where(
            Enrolment.user_id == user.id,
            Enrolment.course_id == course.id,
            Enrolment.cycle_id == cycle.id,
        )
    )


def enrol(
    user: User, course: Course, cycle: Cycle, *, enrolled_by: User | None = None
) -> Enrolment:
    """Enrol an operator in a published course of ``cycle``; once per course and cycle."""
    if user.role != Role.OPERATOR:
        raise ServiceError(_l("Solo gli operatori si iscrivono ai corsi."))
    if not user.is_active_account or user.deleted_at is not None:
        raise ServiceError(_l("L'account non è attivo."))
    ensure_cycle_open(cycle)
    if course.cycle_id != cycle.id:
        raise ServiceError(_l("Il corso non appartiene al ciclo aperto."))
    if not course.is_published:
        raise ServiceError(_l("Il corso non è pubblicato."))
    if enrolment_for(user, course, cycle) is not None:
        raise ServiceError(_l("Iscrizione a questo corso già presente."))
    enrolment = Enrolment(
        user_id=user.id,
        course_id=course.id,
        cycle_id=cycle.id,
        enrolled_by_id=enrolled_by.id if enrolled_by else None,
    )
    db.session.add(enrolment)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a concurrent enrolment got there first
        db.session.rollback()
        raise ServiceError(_l("Iscrizione a questo corso già presente.")) from exc
    tallies.record_enrolments([enrolment])
    return enrolment


ACTIVITY_RESOLUTION = timedelta(hours=1)


def _activity_due(enrolment: Enrolment | None) -> bool:
    """Activity is recorded at most once an hour: "active in the last 30 days" needs no
    more, and a page view then writes nothing."""
    if enrolment is None:
        return False
    last = enrolment.last_activity_at
    return last is None or utcnow() - last > ACTIVITY_RESOLUTION


def _touch(enrolment: Enrolment | None) -> bool:
    """Record activity if due; True when it wrote."""
    if not _activity_due(enrolment):
        return False
    enrolment.last_activity_at = utcnow()  # type: ignore[union-attr]
    return True


# --- reading ---------------------------------------------------------------------------


def _record_id(
    model: type[ModuleView] | type[ModuleCompletion], user: User, module: Module, cycle: Cycle
) -> int | None:
    """The id of the user's view or completion of ``module`` in ``cycle``, if any."""
    return db.session.scalar(
        select(model.id).where(
            model.user_id == user.id, model.module_id == module.id, model.cycle_id == cycle.id
        )
    )


@dataclass(frozen=True)
class RecordedView:
    changed: bool  # something was written: the caller commits
    completion: CourseCompletion | None = None  # the course this view completed


def record_view(
    user: User, module: Module, version: ModuleVersion, cycle: Cycle, enrolment: Enrolment
) -> RecordedView:
    """Remember that an enrolled operator opened ``module`` (the first time counts).

    Nothing is recorded in a closed cycle: reading stays possible, its records do not change.
    A repeated view of a quiz module writes nothing (activity is kept to the hour), and
    then takes no lock either.
    """
    viewed = _record_id(ModuleView, user, module, cycle) is not None
    if viewed and version.quiz is not None and not _activity_due(enrolment):
        return RecordedView(changed=False)
    if not cycle_is_open(cycle):
        return RecordedView(changed=False)
    changed = _touch(enrolment)
    if not viewed:
        try:
            with db.session.begin_nested():
                db.session.add(
                    ModuleView(
                        user_id=user.id,
                        module_id=module.id,
                        module_version_id=version.id,
                        cycle_id=cycle.id,
                    )
                )
            changed = True
        except IntegrityError:
            pass  # opened in another tab at the same moment
    if version.quiz is None:  # reading it is what completes it
        completion = _complete_module(user, module, version, cycle, attempt=None)
        return RecordedView(changed=True, completion=completion)
    return RecordedView(changed=changed)


def attempt_rows(user: User, module: Module, cycle: Cycle) -> list[AttemptRow]:
    """What the module page lists of the user's attempts (no answers, no results)."""
    rows = db.session.execute(
        select(
            QuizAttempt.public_id,
            QuizAttempt.number,
            QuizAttempt.score,
            QuizAttempt.submitted_at.is_not(None),
            QuizAttempt.passed,
        )
        .where(
            QuizAttempt.user_id == user.id,
            QuizAttempt.module_id == module.id,
            QuizAttempt.cycle_id == cycle.id,
        )
        .order_by(QuizAttempt.number)
    )
    return [AttemptRow(*row) for row in rows]


@dataclass(frozen=True)
class AttemptRow:
    public_id: str
    number: int
    score: float | None
    is_submitted: bool
    passed: bool | None


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
    submitted = sum(1 for a in attempts if a.is_submitted)
    if quiz.attempts is not None and submitted >= quiz.attempts:
        raise ServiceError(
            _l(
                "Hai esaurito i %(n)s tentativi a disposizione per questo questionario.",
                n=quiz.attempts,
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


# --- completion ------------------------------------------------------------------------


def _complete_module(
    user: User,
    module: Module,
    version: ModuleVersion,
    cycle: Cycle,
    *,
    attempt: QuizAttempt | None,
) -> CourseCompletion | None:
    """Record a module as complete (if it was opened) and then, maybe, the course: the
    course completion just recorded, if any."""
    if cycle.closed_at is not None:  # callers checked under the cycle's lock already
        return None
    opened = _record_id(ModuleView, user, module, cycle)
    already = _record_id(ModuleCompletion, user, module, cycle)
    if opened is None or already is not None:
        return None
    try:
        with db.session.begin_nested():
            db.session.add(
                ModuleCompletion(
                    user_id=user.id,
                    module_id=module.id,
                    module_version_id=version.id,
                    cycle_id=cycle.id,
                    attempt_id=attempt.id if attempt else None,
                )
            )
    except IntegrityError:
        return None
    return _maybe_complete_course(user, module.course, cycle)


def _maybe_complete_course(user: User, course: Course, cycle: Cycle) -> CourseCompletion | None:
    if cycle.closed_at is not None:  # a closed cycle's completions never change
        return None
    modules = list(
        db.session.scalars(
            select(Module)
            .where(
                Module.course_id == course.id,
                Module.retired_at.is_(None),
                Module.current_version_id.is_not(None),
            )
            .order_by(Module.position)
        )
    )
    done = dict(
        db.session.execute(
            select(ModuleCompletion.module_id, ModuleCompletion.module_version_id).where(
                ModuleCompletion.user_id == user.id,
                ModuleCompletion.cycle_id == cycle.id,
                ModuleCompletion.module_id.in_([m.id for m in modules]),
            )
        ).all()
    )
    if not modules or any(m.id not in done for m in modules):
        return None
    if db.session.scalar(
        select(CourseCompletion.id).where(
            CourseCompletion.user_id == user.id,
            CourseCompletion.course_id == course.id,
            CourseCompletion.cycle_id == cycle.id,
        )
    ):
        return None
    version = course.current_version
    completion = CourseCompletion(
        user_id=user.id,
        course_id=course.id,
        course_version_id=version.id,
        cycle_id=cycle.id,
        comune_id=user.comune_id,
        hours=version.hours,
        module_versions=[done[m.id] for m in modules],
    )
    try:
        with db.session.begin_nested():
            db.session.add(completion)
    except IntegrityError:
        return None
    tallies.record_completion(completion)
    from lgnetforma.services.certificates import issue_certificate

    issue_certificate(completion)
    return completion


def course_completion(user: User, course: Course, cycle: Cycle) -> CourseCompletion | None:
    return db.session.scalar(
        select(CourseCompletion).where(
            CourseCompletion.user_id == user.id,
            CourseCompletion.course_id == course.id,
            CourseCompletion.cycle_id == cycle.id,
        )
    )


# --- progress --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleStatus:
    opened: bool
    completed: bool
    attempts: int
    passed: bool
    best_score: float | None


@dataclass(frozen=True)
class CourseProgress:
    enrolment: Enrolment
    modules_total: int
    modules_done: int
    quizzes_total: int
    quizzes_passed: int
    hours: float
    completion: CourseCompletion | None

    @property
    def percent(self) -> int:
        return round(100 * self.modules_done / self.modules_total) if self.modules_total else 0


def my_courses(user: User, cycle: Cycle) -> list[CourseProgress]:
    """Each enrolment of ``user`` in ``cycle`` with its progress, in a fixed number of queries."""
    enrolments = list(
        db.session.scalars(
            select(Enrolment)
            .where(Enrolment.user_id == user.id, Enrolment.cycle_id == cycle.id)
            .order_by(Enrolment.created_at)
        )
    )
    course_ids = [e.course_id for e in enrolments]
    if not course_ids:
        return []
    module_rows = db.session.execute(
        select(Module.course_id, Module.id, ModuleVersion.quiz.is_not(None))
        .join(ModuleVersion, ModuleVersion.id == Module.current_version_id)
        .where(Module.course_id.in_(course_ids), Module.retired_at.is_(None))
    ).all()
    done = set(
        db.session.scalars(
            select(ModuleCompletion.module_id).where(
                ModuleCompletion.user_id == user.id, ModuleCompletion.cycle_id == cycle.id
            )
        )
    )
    passed = set(
        db.session.scalars(
            select(QuizAttempt.module_id).where(
                QuizAttempt.user_id == user.id,
                QuizAttempt.cycle_id == cycle.id,
                QuizAttempt.passed.is_(True),
            )
        )
    )
    completions = {
        c.course_id: c
        for c in db.session.scalars(
            select(CourseCompletion).where(
                CourseCompletion.user_id == user.id, CourseCompletion.cycle_id == cycle.id
            )
        )
    }
    progress = []
    for enrolment in enrolments:
        rows = [r for r in module_rows if r[0] == enrolment.course_id]
        quiz_modules = [r[1] for r in rows if r[2]]
        progress.append(
            CourseProgress(
                enrolment=enrolment,
                modules_total=len(rows),
                modules_done=sum(1 for r in rows if r[1] in done),
                quizzes_total=len(quiz_modules),
                quizzes_passed=sum(1 for m in quiz_modules if m in passed),
                hours=enrolment.course.current_version.hours,
                completion=completions.get(enrolment.course_id),
            )
        )
    return progress


def next_modules(user: User, cycle: Cycle, course_ids: list[int]) -> dict[int, Module]:
    """Per course id: the first module, in the course's order, that ``user`` has not
    completed in ``cycle`` (courses with every module completed are absent)."""
    if not course_ids:
        return {}
    done = select(ModuleCompletion.module_id).where(
        ModuleCompletion.user_id == user.id, ModuleCompletion.cycle_id == cycle.id
    )
    found: dict[int, Module] = {}
    for module in db.session.scalars(
        select(Module)
        .where(
            Module.course_id.in_(course_ids),
            Module.retired_at.is_(None),
            Module.current_version_id.is_not(None),
            Module.id.not_in(done),
        )
        .order_by(Module.course_id, Module.position, Module.id)
    ):
        found.setdefault(module.course_id, module)
    return found


def module_statuses(user: User, course: Course, cycle: Cycle) -> dict[int, ModuleStatus]:
    """Per module id of ``course``: opened, completed, attempts, passed, best score."""
    opened = set(
        db.session.scalars(
            select(ModuleView.module_id)
            .join(Module, Module.id == ModuleView.module_id)
            .where(
                ModuleView.user_id == user.id,
                ModuleView.cycle_id == cycle.id,
                Module.course_id == course.id,
            )
        )
    )
    completed = set(
        db.session.scalars(
            select(ModuleCompletion.module_id)
            .join(Module, Module.id == ModuleCompletion.module_id)
            .where(
                ModuleCompletion.user_id == user.id,
                ModuleCompletion.cycle_id == cycle.id,
                Module.course_id == course.id,
            )
        )
    )
    attempt_rows = db.session.execute(
        select(
            QuizAttempt.module_id,
            func.count(QuizAttempt.submitted_at),
            func.max(QuizAttempt.score),
            func.max(func.coalesce(QuizAttempt.passed, False).cast(db.Integer)),
        )
        .join(Module, Module.id == QuizAttempt.module_id)
        .where(
            QuizAttempt.user_id == user.id,
            QuizAttempt.cycle_id == cycle.id,
            Module.course_id == course.id,
        )
        .group_by(QuizAttempt.module_id)
    ).all()
    attempts = {row[0]: row for row in attempt_rows}
    module_ids = opened | completed | set(attempts)
    return {
        module_id: ModuleStatus(
            opened=module_id in opened,
            completed=module_id in completed,
            attempts=attempts[module_id][1] if module_id in attempts else 0,
            passed=bool(attempts[module_id][3]) if module_id in attempts else False,
            best_score=attempts[module_id][2] if module_id in attempts else None,
        )
        for module_id in module_ids
    }
