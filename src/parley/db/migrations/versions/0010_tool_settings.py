"""MCP servers a conversation switched off (issue 13).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (never batch mode: on SQLite it copies and drops the table, and the
    # drop cascades to every message). NULL: no server switched off.
    op.add_column("conversations", sa.Column("tools_off", sa.JSON, nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE conversations DROP COLUMN tools_off")
