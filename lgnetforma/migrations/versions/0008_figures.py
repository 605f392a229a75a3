"""attempt grants: more quiz attempts granted to one operator, with a reason

Revision ID: 0008_figures
Revises: 0007_worker
Create Date: 2026-12-01 15:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_figures"
down_revision = "0007_worker"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempt_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("extra", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_attempt_grant_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_id"],
            ["user_account.id"],
            name=op.f("fk_attempt_grant_granted_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"], ["module.id"], name=op.f("fk_attempt_grant_module_id_module")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycle.id"], name=op.f("fk_attempt_grant_cycle_id_cycle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt_grant")),
        sa.UniqueConstraint("request_key", name=op.f("uq_attempt_grant_request_key")),
    )
    op.create_index(op.f("ix_attempt_grant_user_id"), "attempt_grant", ["user_id"])
    op.create_index(op.f("ix_attempt_grant_module_id"), "attempt_grant", ["module_id"])
    op.create_index(op.f("ix_attempt_grant_cycle_id"), "attempt_grant", ["cycle_id"])


def downgrade() -> None:
    op.drop_table("attempt_grant")
