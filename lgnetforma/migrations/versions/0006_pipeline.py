"""course review date: course_version.reviewed (course.md ``reviewed``)

Revision ID: 0006_pipeline
Revises: 0005_report_tallies
Create Date: 2026-12-01 15:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_pipeline"
down_revision = "0005_report_tallies"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("course_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed", sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table("course_version", schema=None) as batch_op:
        batch_op.drop_column("reviewed")
