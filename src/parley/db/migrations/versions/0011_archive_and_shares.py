"""Imports keyed by their source, and share links (issue 14).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (never batch mode: on SQLite it copies and drops the table, and the
    # drop cascades to every message).
    op.add_column("conversations", sa.Column("import_key", sa.String(200), nullable=True))
    op.create_index(
        "ix_conversations_owner_id_import_key",
        "conversations",
        ["owner_id", "import_key"],
        unique=True,
    )
    op.create_table(
        "shares",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("include_files", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_shares_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_shares"),
        sa.UniqueConstraint("conversation_id", name="uq_shares_conversation_id"),
    )
    op.create_index("ix_shares_owner_id_updated_at", "shares", ["owner_id", "updated_at"])


def downgrade() -> None:
    op.drop_table("shares")
    op.drop_index("ix_conversations_owner_id_import_key", "conversations")
    op.execute("ALTER TABLE conversations DROP COLUMN import_key")
