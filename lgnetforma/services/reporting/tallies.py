"""The running totals behind the reports, kept exact.

Two tables: ``ReportTally`` per cycle, comune and course (enrolled operators, enrolments,
submitted and passed quiz attempts, course completions) and ``ReportMonthTally`` per
cycle, comune, course and calendar month (course completions).

Every event that changes a figure bumps its tally in the same transaction: an enrolment,
a submitted quiz attempt, a course completion. Operators never change comune and
enrolments, attempts and completions are never deleted, so the totals only ever grow and
an upsert per event keeps them right. Data written around the services (the synthetic
generator, a hand-made fix) is followed by ``rebuild``; ``differences`` compares the
tallies with a recount from the facts (``lgnetforma reports check-tallies``, and the test
suite after every test).

Attribution follows the reports' definitions: enrolments and attempts count in the
operator's comune, completions in the comune recorded with the completion, and each
enrolled operator once, on the course of their first enrolment of the cycle. Months are
calendar months in Europe/Rome (``facts.rome_month``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from lgnetforma.extensions import db
from lgnetforma.models import (
    CourseCompletion,
    Cycle,
    Enrolment,
    Module,
    QuizAttempt,
    ReportMonthTally,
    ReportTally,
    User,
)
from lgnetforma.services.reporting.facts import completion_months, rome_month

Key = tuple[int, ...]
Counts = dict[str, int]
BATCH = 1000  # rows per round of an executemany


@dataclass(frozen=True)
class _Table:
    model: type
    keys: tuple[str, ...]
    counts: tuple[str, ...]

    def zero(self) -> Counts:
        return dict.fromkeys(self.counts, 0)


BY_COURSE = _Table(
    ReportTally,
    ("cycle_id", "comune_id", "course_id"),
    ("enrolled", "enrolments", "attempts", "passed_attempts", "completions"),
)
BY_MONTH = _Table(
    ReportMonthTally, ("cycle_id", "comune_id", "course_id", "year", "month"), ("completions",)
)
TABLES = (BY_COURSE, BY_MONTH)


def _upsert(table: _Table, dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE adding to the counts; parameters come per row, so
    the statement is compiled once."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table.model.__table__)
    return statement.on_conflict_do_update(
        index_elements=list(table.keys),
        set_={c: table.model.__table__.c[c] + statement.excluded[c] for c in table.counts},
    )


def _bump(table: _Table, increments: dict[Key, Counts]) -> None:
    """Add ``increments`` to ``table``, creating missing rows."""
    rows = [
        {**dict(zip(table.keys, key, strict=True)), **table.zero(), **counts}
        for key, counts in sorted(increments.items())  # one lock order, whoever runs this
        if any(counts.values())
    ]
    if not rows:
        return
    statement = _upsert(table, db.session.get_bind().dialect.name)
    for start in range(0, len(rows), BATCH):
        db.session.execute(statement, rows[start : start + BATCH])


def record_enrolments(enrolments: Sequence[Enrolment]) -> None:
    """Count new (flushed) enrolments of one cycle.

    The operators' rows are locked first, so that of two concurrent first enrolments of
    one operator exactly one is counted as the operator's first: the second transaction
    waits, then sees the first one's enrolment.
    """
    if not enrolments:
        return
    cycle_id = enrolments[0].cycle_id
    user_ids = sorted({e.user_id for e in enrolments})
    comune_of = dict(
        db.session.execute(
            select(User.id, User.comune_id)
            .where(User.id.in_(user_ids))
            .order_by(User.id)
            # NO KEY UPDATE: compatible with the key-share locks that the enrolments'
            # foreign keys already hold on these rows, so two enrolments queue here
            # instead of deadlocking.
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE
        ).all()
    )
    enrolled_before = set(
        db.session.scalars(
            select(Enrolment.user_id)
            .where(
                Enrolment.cycle_id == cycle_id,
                Enrolment.user_id.in_(user_ids),
                Enrolment.id.not_in([e.id for e in enrolments]),
            )
            .distinct()
        )
    )
    increments: dict[Key, Counts] = defaultdict(BY_COURSE.zero)
    for enrolment in sorted(enrolments, key=lambda e: e.id):
        comune_id = comune_of.get(enrolment.user_id)
        if comune_id is None:
            continue
        counts = increments[(cycle_id, comune_id, enrolment.course_id)]
        counts["enrolments"] += 1
        if enrolment.user_id not in enrolled_before:
            counts["enrolled"] += 1
            enrolled_before.add(enrolment.user_id)
    _bump(BY_COURSE, increments)


def record_attempt(attempt: QuizAttempt, *, course_id: int, comune_id: int | None) -> None:
    """Count a quiz attempt just submitted (once: the caller won the submission)."""
    if comune_id is None:
        return
    counts = {"attempts": 1, "passed_attempts": 1 if attempt.passed else 0}
    _bump(BY_COURSE, {(attempt.cycle_id, comune_id, course_id): counts})


def record_completion(completion: CourseCompletion) -> None:
    """Count a (flushed) course completion in the comune recorded with it."""
    if completion.comune_id is None:
        return
    cycle_id, comune_id, course_id = completion.cycle_id, completion.comune_id, completion.course_id
    year, month = rome_month(completion.completed_at)
    _bump(BY_COURSE, {(cycle_id, comune_id, course_id): {"completions": 1}})
    _bump(BY_MONTH, {(cycle_id, comune_id, course_id, year, month): {"completions": 1}})


# --- recounting from the facts ---------------------------------------------------------


def recount(cycle: Cycle | None = None) -> dict[_Table, dict[Key, Counts]]:
    """Both tallies computed from the facts themselves (of one cycle, or of all)."""

    def in_cycle(column: Any) -> list[Any]:
        return [column == cycle.id] if cycle is not None else []

    first_enrolment = (
        select(func.min(Enrolment.id))
        .where(*in_cycle(Enrolment.cycle_id))
        .group_by(Enrolment.user_id, Enrolment.cycle_id)
    )
    enrolment_key = (Enrolment.cycle_id, User.comune_id, Enrolment.course_id)
    completion_key = (
        CourseCompletion.cycle_id,
        CourseCompletion.comune_id,
        CourseCompletion.course_id,
    )
    attempt_key = (QuizAttempt.cycle_id, User.comune_id, Module.course_id)
    counted_completions = [
        CourseCompletion.comune_id.is_not(None),
        *in_cycle(CourseCompletion.cycle_id),
    ]
    queries = (
        (
            BY_COURSE,
            ("enrolments",),
            select(*enrolment_key, func.count(Enrolment.id))
            .join(User, User.id == Enrolment.user_id)
            .where(User.comune_id.is_not(None), *in_cycle(Enrolment.cycle_id))
            .group_by(*enrolment_key),
        ),
        (
            BY_COURSE,
            ("enrolled",),
            select(*enrolment_key, func.count(Enrolment.id))
            .join(User, User.id == Enrolment.user_id)
            .where(User.comune_id.is_not(None), Enrolment.id.in_(first_enrolment))
            .group_by(*enrolment_key),
        ),
        (
            BY_COURSE,
            ("attempts", "passed_attempts"),
            select(
                *attempt_key,
                func.count(QuizAttempt.id),
                func.coalesce(func.sum(case((QuizAttempt.passed.is_(True), 1), else_=0)), 0),
            )
            .join(User, User.id == QuizAttempt.user_id)
            .join(Module, Module.id == QuizAttempt.module_id)
            .where(
                QuizAttempt.submitted_at.is_not(None),
                User.comune_id.is_not(None),
                *in_cycle(QuizAttempt.cycle_id),
            )
            .group_by(*attempt_key),
        ),
        (
            BY_COURSE,
            ("completions",),
            select(*completion_key, func.count(CourseCompletion.id))
            .where(*counted_completions)
            .group_by(*completion_key),
        ),
    )
    totals: dict[_Table, dict[Key, Counts]] = {t: defaultdict(t.zero) for t in TABLES}
    months = completion_months(cycle.id if cycle is not None else None)
    for key, count in months.items():
        totals[BY_MONTH][key]["completions"] = count
    for table, names, query in queries:
        width = len(table.keys)
        for row in db.session.execute(query):
            key = tuple(int(v) for v in row[:width])
            totals[table][key].update(zip(names, map(int, row[width:]), strict=True))
    return {table: dict(rows) for table, rows in totals.items()}


def stored(cycle: Cycle | None = None) -> dict[_Table, dict[Key, Counts]]:
    found: dict[_Table, dict[Key, Counts]] = {}
    for table in TABLES:
        query = select(table.model)
        if cycle is not None:
            query = query.where(table.model.cycle_id == cycle.id)
        rows = {}
        for row in db.session.scalars(query):
            counts = {c: getattr(row, c) for c in table.counts}
            if any(counts.values()):
                rows[tuple(getattr(row, k) for k in table.keys)] = counts
        found[table] = rows
    return found


def rebuild(cycle: Cycle | None = None) -> int:
    """Replace the tallies (of one cycle, or all) with a recount; the caller commits.
    Returns the number of rows written."""
    written = 0
    for table, totals in recount(cycle).items():
        query = delete(table.model)
        if cycle is not None:
            query = query.where(table.model.cycle_id == cycle.id)
        db.session.execute(query)
        _bump(table, totals)
        written += len(totals)
    return written


def differences(cycle: Cycle | None = None) -> list[tuple[str, Key, str, int, int]]:
    """Where the tallies disagree with a recount: (table, key, figure, stored, recounted).

    "enrolled" is compared per cycle and comune: which course carries an operator is the
    first enrolment to be counted, and of two concurrent ones that need not be the one
    with the lower id; only the sum over courses has a meaning.
    """
    have, want = stored(cycle), recount(cycle)
    found = []
    for table in TABLES:
        for name in table.counts:
            a, b = _figure(have[table], table, name), _figure(want[table], table, name)
            for key in sorted(set(a) | set(b)):
                stored_value, recounted = a.get(key, 0), b.get(key, 0)
                if stored_value != recounted:
                    found.append((table.model.__tablename__, key, name, stored_value, recounted))
    return found


def _figure(rows: dict[Key, Counts], table: _Table, name: str) -> dict[Key, int]:
    """One figure of a tally, by key (by cycle and comune for "enrolled")."""
    values: dict[Key, int] = defaultdict(int)
    for key, counts in rows.items():
        values[key[:2] if name == "enrolled" else key] += counts[name]
    return {key: value for key, value in values.items() if value}
