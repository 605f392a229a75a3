"""SPID and CIE: user_account.fiscal_code, saml_request

Revision ID: 0011_spid
Revises: 0010_sessions
Create Date: 2026-12-01 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_spid"
down_revision = "0010_sessions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fiscal_code", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint("uq_user_account_fiscal_code", ["fiscal_code"])
    op.create_table(
        "saml_request",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("idp_entity_id", sa.String(length=500), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("next_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assertion_id", sa.String(length=100), nullable=True),
        sa.Column("name_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assertion_id"),
    )
    op.create_index("ix_saml_request_created_at", "saml_request", ["created_at"])
    op.create_index("ix_saml_request_name_id", "saml_request", ["name_id"])


def downgrade():
    op.drop_index("ix_saml_request_name_id", table_name="saml_request")
    op.drop_index("ix_saml_request_created_at", table_name="saml_request")
    op.drop_table("saml_request")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_constraint("uq_user_account_fiscal_code", type_="unique")
        batch_op.drop_column("fiscal_code")
