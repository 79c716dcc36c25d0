"""Login attempts shared by every process; indexes for bulk deletes and run lookups.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_parent_id", "messages", ["parent_id"])
    op.create_index("ix_runs_conversation_id_status", "runs", ["conversation_id", "status"])
    op.create_index("ix_runs_owner_id_status", "runs", ["owner_id", "status"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
    )
    op.create_index("ix_login_attempts_key_at", "login_attempts", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_attempts_key_at", "login_attempts")
    op.drop_table("login_attempts")
    op.drop_index("ix_runs_owner_id_status", "runs")
    op.drop_index("ix_runs_conversation_id_status", "runs")
    op.drop_index("ix_messages_parent_id", "messages")
