"""report tallies: running totals per cycle, comune and course (and month)

Revision ID: 0005_report_tallies
Revises: 0004_trust
Create Date: 2026-11-22 03:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_report_tallies"
down_revision = "0004_trust"
branch_labels = None
depends_on = None

# The tallies of the facts already recorded, as lgnetforma.services.reporting.tallies.recount
# defines them (a test checks that the two agree).
FILL = """
INSERT INTO report_tally
    (cycle_id, comune_id, course_id, enrolled, enrolments, attempts, passed_attempts,
     completions)
SELECT cycle_id, comune_id, course_id, SUM(enrolled), SUM(enrolments), SUM(attempts),
       SUM(passed_attempts), SUM(completions)
FROM (
    SELECT e.cycle_id, u.comune_id, e.course_id, 0 AS enrolled, 1 AS enrolments,
           0 AS attempts, 0 AS passed_attempts, 0 AS completions
    FROM enrolment e JOIN user_account u ON u.id = e.user_id
    WHERE u.comune_id IS NOT NULL
    UNION ALL
    SELECT e.cycle_id, u.comune_id, e.course_id, 1, 0, 0, 0, 0
    FROM enrolment e JOIN user_account u ON u.id = e.user_id
    WHERE u.comune_id IS NOT NULL
      AND e.id IN (SELECT MIN(id) FROM enrolment GROUP BY user_id, cycle_id)
    UNION ALL
    SELECT a.cycle_id, u.comune_id, m.course_id, 0, 0, 1,
           CASE WHEN a.passed THEN 1 ELSE 0 END, 0
    FROM quiz_attempt a
    JOIN user_account u ON u.id = a.user_id
    JOIN module m ON m.id = a.module_id
    WHERE a.submitted_at IS NOT NULL AND u.comune_id IS NOT NULL
    UNION ALL
    SELECT c.cycle_id, c.comune_id, c.course_id, 0, 0, 0, 0, 1
    FROM course_completion c
    WHERE c.comune_id IS NOT NULL
) AS facts
GROUP BY cycle_id, comune_id, course_id
"""


FILL_MONTHS = """
INSERT INTO report_month_tally (cycle_id, comune_id, year, month, completions)
SELECT cycle_id, comune_id, {year}, {month}, COUNT(id)
FROM course_completion
WHERE comune_id IS NOT NULL
GROUP BY cycle_id, comune_id, {year}, {month}
"""
MONTH_PARTS = {
    "postgresql": (
        "CAST(EXTRACT(year FROM completed_at AT TIME ZONE 'UTC') AS INTEGER)",
        "CAST(EXTRACT(month FROM completed_at AT TIME ZONE 'UTC') AS INTEGER)",
    ),
    "sqlite": (
        "CAST(STRFTIME('%Y', completed_at) AS INTEGER)",
        "CAST(STRFTIME('%m', completed_at) AS INTEGER)",
    ),
}


def upgrade():
    op.create_table(
        "report_tally",
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.Column("enrolments", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("passed_attempts", sa.Integer(), nullable=False),
        sa.Column("completions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comune_id"], ["comune.id"], name=op.f("fk_report_tally_comune_id_comune")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["course.id"], name=op.f("fk_report_tally_course_id_course")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycle.id"], name=op.f("fk_report_tally_cycle_id_cycle")
        ),
        sa.PrimaryKeyConstraint("cycle_id", "comune_id", "course_id", name=op.f("pk_report_tally")),
    )
    op.create_table(
        "report_month_tally",
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("completions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comune_id"], ["comune.id"], name=op.f("fk_report_month_tally_comune_id_comune")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycle.id"], name=op.f("fk_report_month_tally_cycle_id_cycle")
        ),
        sa.PrimaryKeyConstraint(
            "cycle_id", "comune_id", "year", "month", name=op.f("pk_report_month_tally")
        ),
    )
    # "Active in the last 30 days" reads the recent enrolments of one cycle only.
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrolment_cycle_activity", ["cycle_id", "last_activity_at"], unique=False
        )
    op.execute(FILL)
    year, month = MONTH_PARTS[op.get_bind().dialect.name]
    op.execute(FILL_MONTHS.format(year=year, month=month))


def downgrade():
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.drop_index("ix_enrolment_cycle_activity")
    op.drop_table("report_month_tally")
    op.drop_table("report_tally")
