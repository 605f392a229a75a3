"""A realistic national dataset for load tests and report checks.

Operators are spread over the eligible comuni in proportion to their population; they
enrol in the published courses of the current cycle, open modules, take quizzes with a
plausible pass/fail mix and complete courses over the months of the cycle. Rows are
written with bulk inserts and explicit ids, so 50,000 operators take seconds, not hours.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, func, select, text

from lgnetforma.extensions import db
from lgnetforma.models import (
    Certificate,
    Comune,
    CourseCompletion,
    Cycle,
    Enrolment,
    ModuleCompletion,
    ModuleView,
    QuizAttempt,
    User,
)
from lgnetforma.services.catalogue.listing import active_modules, catalogue
from lgnetforma.services.learning.certificates import CODE_ALPHABET
from lgnetforma.services.people.passwords import hash_password
from lgnetforma.services.platform.cycles import eligible_condition
from lgnetforma.services.reporting import tallies

CHUNK = 5000
FIRST_NAMES = (
    "Giulia",
    "Marco",
    "Francesca",
    "Luca",
    "Chiara",
    "Andrea",
    "Sara",
    "Matteo",
    "Elena",
    "Paolo",
    "Anna",
    "Davide",
    "Valentina",
    "Simone",
    "Laura",
    "Alessandro",
    "Martina",
    "Stefano",
    "Federica",
    "Giorgio",
    "Silvia",
    "Roberto",
    "Alessia",
    "Fabio",
    "Ilaria",
    "Antonio",
    "Elisa",
    "Michele",
    "Serena",
    "Giovanni",
    "Aisha",
    "Omar",
    "Fatima",
    "Ahmed",
    "Ion",
    "Maria",
)
LAST_NAMES = (
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
    "Longo",
    "Gentile",
    "Martinelli",
    "Vitale",
)
# Share of operators enrolled in 1, 2, 3 … courses, and how far an enrolment gets.
COURSES_PER_OPERATOR = (0.05, 0.15, 0.80)
PROGRESS = (("none", 0.05), ("partial", 0.25), ("complete", 0.70))
PASS_PROBABILITY = 0.45  # per attempt: about 19 attempts per operator overall
RESULTS_SAMPLE = 0.1  # share of attempts that keep per-question results (item analysis)
# The tables written, parents first (foreign keys find their rows, batch after batch).
WRITTEN = (
    User,
    Enrolment,
    ModuleView,
    QuizAttempt,
    ModuleCompletion,
    CourseCompletion,
    Certificate,
)


@dataclass(frozen=True)
class SeedReport:
    operators: int
    enrolments: int
    views: int
    attempts: int
    module_completions: int
    course_completions: int


@dataclass(frozen=True)
class _ModuleInfo:
    id: int
    version_id: int
    quiz: dict[str, Any] | None


@dataclass(frozen=True)
class _CourseInfo:
    id: int
    version_id: int
    title: str
    hours: float
    modules: tuple[_ModuleInfo, ...]


class _Ids:
    """Explicit primary keys, continuing after what the tables already hold."""

    def __init__(self, *models: type) -> None:
        self._next = {
            model: (db.session.scalar(select(func.max(model.id))) or 0) + 1 for model in models
        }

    def peek(self, model: type) -> int:
        return self._next[model]

    def take(self, model: type) -> int:
        value = self._next[model]
        self._next[model] = value + 1
        return value


def seed_synthetic(
    operators: int,
    *,
    seed: int = 1,
    cycle: Cycle,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> SeedReport:
    """Add ``operators`` synthetic operators and their learning history to the database."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    now = now or datetime.now(UTC)
    courses = _courses(cycle)
    if not courses:
        raise ValueError("no published course in the current cycle: import the courses first")
    comuni, cumulative = _comuni_weights(cycle)
    start = datetime.combine(cycle.start_date, datetime.min.time(), tzinfo=UTC)
    end = min(datetime.combine(cycle.end_date, datetime.max.time(), tzinfo=UTC), now)
    span = max((end - start).total_seconds(), 1.0)
    password_hash = hash_password(f"synthetic-{seed}-not-a-login")
    ids = _Ids(*WRITTEN)
    # Emails stay unique across runs on the same database, whatever the seed.
    tag = f"{seed}-{ids.peek(User)}"
    comune_names = dict(
        db.session.execute(select(Comune.id, Comune.name).where(Comune.id.in_(comuni))).all()
    )

    batches: dict[type, list[dict[str, Any]]] = {model: [] for model in WRITTEN}
    counts = dict.fromkeys(batches, 0)

    def flush(force: bool = False) -> None:
        # All tables at once, parents first, so foreign keys always find their rows.
        if not force and all(len(rows) < CHUNK for rows in batches.values()):
            return
        for model, rows in batches.items():
            if rows:
                _bulk_write(model, rows)
                counts[model] += len(rows)
                rows.clear()

    for n in range(operators):
        comune_id = comuni[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
        user_id = ids.take(User)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        joined = start + timedelta(seconds=rng.random() * span * 0.97)
        batches[User].append(
            {
                "id": user_id,
                "email": f"op{n}.{tag}@sintetico.lgnetforma.invalid",
                "full_name": f"{first} {last}",
                "password_hash": password_hash,
                "role": "operator",
                "comune_id": comune_id,
                "is_active": True,  # the column behind User.is_active_account
                "is_confirmed": True,
                "confirmed_at": joined,
                "session_version": 1,
                "created_at": joined,
                "updated_at": joined,
            }
        )
        how_many = _weighted_index(rng, COURSES_PER_OPERATOR) + 1
        holder = _Holder(user_id, f"{first} {last}", comune_id, comune_names.get(comune_id, ""))
        for course in rng.sample(courses, min(how_many, len(courses))):
            _enrolment(rng, batches, ids, course, holder, joined, end, cycle)
        flush()
        if progress is not None and (n + 1) % 1000 == 0:
            progress(1000)
    flush(force=True)
    if progress is not None:
        progress(operators % 1000)
    _reset_sequences()
    # The rows went in around the services: count them into the reports' tallies.
    tallies.rebuild(cycle)
    db.session.commit()
    # Fresh planner statistics: the tables have just grown by orders of magnitude.
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return SeedReport(
        operators=counts[User],
        enrolments=counts[Enrolment],
        views=counts[ModuleView],
        attempts=counts[QuizAttempt],
        module_completions=counts[ModuleCompletion],
        course_completions=counts[CourseCompletion],
    )


@dataclass(frozen=True)
class _Holder:
    user_id: int
    name: str
    comune_id: int
    comune_name: str


def _enrolment(
    rng: random.Random,
    batches: dict[type, list[dict[str, Any]]],
    ids: _Ids,
    course: _CourseInfo,
    holder: _Holder,
    joined: datetime,
    end: datetime,
    cycle: Cycle,
) -> None:
    user_id = holder.user_id
    clock = joined + timedelta(hours=rng.random() * 72)
    enrolled_at = clock
    stage = PROGRESS[_weighted_index(rng, [w for _, w in PROGRESS])][0]
    target = {"none": 0, "partial": rng.randint(1, len(course.modules)), "complete": 99}[stage]
    done_versions: list[int] = []
    last_activity = None
    for position, module in enumerate(course.modules):
        if position >= target:
            break
        clock += timedelta(hours=rng.random() * 96)
        if clock > end:
            break
        batches[ModuleView].append(
            {
                "id": ids.take(ModuleView),
                "user_id": user_id,
                "module_id": module.id,
                "module_version_id": module.version_id,
                "cycle_id": cycle.id,
                "opened_at": clock,
            }
        )
        last_activity = clock
        attempt_id = None
        if module.quiz is not None:
            attempt_id = _attempts(rng, batches, ids, module, user_id, cycle, clock)
            if attempt_id is None:
                break  # failed every allowed attempt, or gave up
        batches[ModuleCompletion].append(
            {
                "id": ids.take(ModuleCompletion),
                "user_id": user_id,
                "module_id": module.id,
                "module_version_id": module.version_id,
                "cycle_id": cycle.id,
                "attempt_id": attempt_id,
                "completed_at": clock,
            }
        )
        done_versions.append(module.version_id)
    batches[Enrolment].append(
        {
            "id": ids.take(Enrolment),
            "user_id": user_id,
            "course_id": course.id,
            "cycle_id": cycle.id,
            "created_at": enrolled_at,
            "last_activity_at": last_activity,
        }
    )
    if len(done_versions) == len(course.modules):
        completion_id = ids.take(CourseCompletion)
        batches[CourseCompletion].append(
            {
                "id": completion_id,
                "user_id": user_id,
                "course_id": course.id,
                "course_version_id": course.version_id,
                "cycle_id": cycle.id,
                "comune_id": holder.comune_id,
                "hours": course.hours,
                "module_versions": done_versions,
                "completed_at": clock,
            }
        )
        batches[Certificate].append(
            {
                "id": (certificate_id := ids.take(Certificate)),
                "code": _code(rng, certificate_id),
                "completion_id": completion_id,
                "holder_name": holder.name,
                "comune_name": holder.comune_name,
                "course_title": course.title,
                "hours": course.hours,
                "cycle_code": cycle.code,
                "completed_on": clock.date(),
                "issued_at": clock,
            }
        )


def _attempts(
    rng: random.Random,
    batches: dict[type, list[dict[str, Any]]],
    ids: _Ids,
    module: _ModuleInfo,
    user_id: int,
    cycle: Cycle,
    clock: datetime,
) -> int | None:
    """Attempts until a pass (returning its id) or until the operator stops (None)."""
    quiz = module.quiz or {}
    limit = quiz.get("attempts") or 8  # "unlimited": people rarely try more
    pass_mark = quiz.get("pass_mark", 0.7)
    questions = quiz.get("questions", [])
    for number in range(1, limit + 1):
        passed = rng.random() < PASS_PROBABILITY
        total = len(questions) or 1
        needed = -(-int(pass_mark * total * 1000) // 1000)
        points = rng.randint(needed, total) if passed else rng.randint(0, max(needed - 1, 0))
        attempt_id = ids.take(QuizAttempt)
        started = clock + timedelta(minutes=number * 7)
        batches[QuizAttempt].append(
            {
                "id": attempt_id,
                "public_id": f"s{attempt_id:x}-{rng.getrandbits(64):016x}",  # unique by id
                "user_id": user_id,
                "module_id": module.id,
                "module_version_id": module.version_id,
                "cycle_id": cycle.id,
                "number": number,
                "started_at": started,
                "submitted_at": started + timedelta(minutes=5),
                "results": _results(rng, questions, points)
                if rng.random() < RESULTS_SAMPLE
                else None,
                "score": points / total,
                "passed": points / total + 1e-9 >= pass_mark,
            }
        )
        if passed:
            return attempt_id
        if rng.random() < 0.02:
            return None  # gave up
    return None


def _results(rng: random.Random, questions: list[dict[str, Any]], points: int) -> list[dict]:
    right = set(rng.sample(range(len(questions)), min(points, len(questions))))
    results = []
    for index, question in enumerate(questions):
        correct = index in right
        options = question.get("options", [])
        if question["kind"] == "short":
            chosen = [question["answers"][0] if correct else "non so"]
        elif correct:
            chosen = [o["key"] for o in options if o["correct"]]
        else:
            wrong = [o["key"] for o in options if not o["correct"]] or [options[0]["key"]]
            chosen = [rng.choice(wrong)]
        results.append({"number": question["number"], "correct": correct, "chosen": chosen})
    return results


def _code(rng: random.Random, certificate_id: int) -> str:
    """A code unique by construction: the id in base 31, then random characters."""
    digits = ""
    while certificate_id:
        certificate_id, rest = divmod(certificate_id, len(CODE_ALPHABET))
        digits = CODE_ALPHABET[rest] + digits
    body = digits.rjust(6, CODE_ALPHABET[0]) + "".join(rng.choice(CODE_ALPHABET) for _ in range(6))
    return f"LGN-{body[:4]}-{body[4:8]}-{body[8:]}"


def _weighted_index(rng: random.Random, weights: Iterable[float]) -> int:
    weights = list(weights)
    point = rng.random() * sum(weights)
    for index, cumulative in enumerate(itertools.accumulate(weights)):
        if point < cumulative:
            return index
    return len(weights) - 1


def _courses(cycle: Cycle) -> list[_CourseInfo]:
    courses = []
    for entry in catalogue(cycle):
        modules = tuple(
            _ModuleInfo(m.id, m.current_version_id, m.current_version.quiz)
            for m in active_modules(entry.course)
        )
        if modules:
            courses.append(
                _CourseInfo(
                    entry.course.id,
                    entry.version.id,
                    entry.version.title,
                    entry.version.hours,
                    modules,
                )
            )
    return courses


def _comuni_weights(cycle: Cycle) -> tuple[list[int], list[int]]:
    rows = db.session.execute(
        select(Comune.id, Comune.population).where(eligible_condition(cycle)).order_by(Comune.id)
    ).all()
    return [r[0] for r in rows], list(itertools.accumulate(r[1] for r in rows))


def _bulk_write(model: type, rows: list[dict[str, Any]]) -> None:
    """Insert rows fast: COPY on PostgreSQL, one Core executemany elsewhere."""
    table = model.__table__
    if db.engine.dialect.name != "postgresql":
        db.session.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    connection = db.session.connection().connection.driver_connection
    names = ", ".join(columns)
    with (
        connection.cursor() as cursor,
        cursor.copy(
            f"COPY {table.name} ({names}) FROM STDIN"  # noqa: S608 - names from our own tables
        ) as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[c]) if c in json_columns and row[c] is not None else row[c]
                    for c in columns
                ]
            )


def _reset_sequences() -> None:
    """After inserting explicit ids, PostgreSQL's sequences must move past them."""
    if db.engine.dialect.name != "postgresql":
        return
    for model in WRITTEN:
        table = model.__tablename__
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed names
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        )
