"""Files attached to prompts, stored once per owner outside the message JSON (issue 13).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
        sa.UniqueConstraint("owner_id", "sha256", name="uq_files_owner_id_sha256"),
    )
    op.create_table(
        "message_files",
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_message_files_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_message_files_file_id_files", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("message_id", "file_id", name="pk_message_files"),
    )
    op.create_index("ix_message_files_file_id", "message_files", ["file_id"])


def downgrade() -> None:
    op.drop_index("ix_message_files_file_id", "message_files")
    op.drop_table("message_files")
    op.drop_table("files")
