"""Running totals behind the coordinators' reports.

Counting a million quiz attempts on every dashboard request does not scale; these tallies
are kept up to date in the same transaction as the event they count (see
``lgnetforma.services.reporting.tallies``), so a report reads a few thousand rows instead.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from lgnetforma.extensions import db


class ReportTally(db.Model):
    """What happened in one comune, in one course, in one cycle."""

    __tablename__ = "report_tally"

    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), primary_key=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comune.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), primary_key=True)
    # Operators of the comune whose first enrolment of the cycle was in this course: summed
    # over courses, each enrolled operator counts once.
    enrolled: Mapped[int] = mapped_column(Integer, default=0)
    enrolments: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # submitted quiz attempts
    passed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    completions: Mapped[int] = mapped_column(Integer, default=0)  # course completions


class ReportMonthTally(db.Model):
    """Course completions of one comune and course in one calendar month of one cycle (the
    month in Europe/Rome, as every date people read)."""

    __tablename__ = "report_month_tally"

    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), primary_key=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comune.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    completions: Mapped[int] = mapped_column(Integer, default=0)
