"""A conversation's own model and instructions; the usage ledger (budgets, usage reports).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (never batch mode: on SQLite it copies and drops the table, and the
    # drop cascades to every message).
    op.add_column("conversations", sa.Column("model", sa.String(200), nullable=True))
    op.add_column("conversations", sa.Column("instructions", sa.Text, nullable=True))
    op.create_table(
        "usage_ledger",
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("replies", sa.Integer, nullable=False),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger, nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", sa.Numeric(20, 10), nullable=False),
        sa.Column("unpriced", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint(
            "owner_id", "day", "conversation_id", "model", name="pk_usage_ledger"
        ),
    )
    op.create_index("ix_usage_ledger_conversation_id", "usage_ledger", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_usage_ledger_conversation_id", "usage_ledger")
    op.drop_table("usage_ledger")
    for column in ("instructions", "model"):
        op.execute(f"ALTER TABLE conversations DROP COLUMN {column}")
