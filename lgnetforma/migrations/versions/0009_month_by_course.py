"""month tallies per course, months in Europe/Rome

Revision ID: 0009_month_by_course
Revises: 0008_figures
Create Date: 2026-12-01 16:30:00

The monthly completions followed the territory but not the course chosen on the dashboard,
and counted months in UTC. The table is rebuilt with a course column and refilled from the
completions, months taken in Europe/Rome (in Python: SQLite cannot convert time zones).
"""

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_month_by_course"
down_revision = "0008_figures"
branch_labels = None
depends_on = None

ROME = ZoneInfo("Europe/Rome")
BATCH = 5000


def _columns(with_course: bool) -> list[sa.Column]:
    columns = [
        sa.Column("cycle_id", sa.Integer(), sa.ForeignKey("cycle.id"), nullable=False),
        sa.Column("comune_id", sa.Integer(), sa.ForeignKey("comune.id"), nullable=False),
    ]
    if with_course:
        columns.append(
            sa.Column("course_id", sa.Integer(), sa.ForeignKey("course.id"), nullable=False)
        )
    columns += [
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("completions", sa.Integer(), nullable=False),
    ]
    return columns


def _table(with_course: bool) -> sa.Table:
    return sa.Table("report_month_tally", sa.MetaData(), *_columns(with_course))


def _create(with_course: bool) -> sa.Table:
    keys = ["cycle_id", "comune_id", *(["course_id"] if with_course else []), "year", "month"]
    op.create_table(
        "report_month_tally",
        *_columns(with_course),
        sa.PrimaryKeyConstraint(*keys, name=op.f("pk_report_month_tally")),
    )
    return _table(with_course)


def _fill(table: sa.Table, with_course: bool, zone: ZoneInfo | None) -> None:
    counts: Counter = Counter()
    rows = op.get_bind().execute(
        sa.text(
            "SELECT cycle_id, comune_id, course_id, completed_at FROM course_completion "
            "WHERE comune_id IS NOT NULL"
        )
    )
    for cycle_id, comune_id, course_id, at in rows:
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        local = at.astimezone(zone or UTC)
        key = (cycle_id, comune_id, *([course_id] if with_course else []), local.year, local.month)
        counts[key] += 1
    names = [c.name for c in table.columns][:-1]
    records = [
        {**dict(zip(names, key, strict=True)), "completions": n} for key, n in counts.items()
    ]
    for start in range(0, len(records), BATCH):
        op.bulk_insert(table, records[start : start + BATCH])


def upgrade():
    op.drop_table("report_month_tally")
    _fill(_create(with_course=True), with_course=True, zone=ROME)


def downgrade():
    op.drop_table("report_month_tally")
    _fill(_create(with_course=False), with_course=False, zone=None)
