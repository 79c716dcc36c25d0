"""Tool calls the user approves (issue 13): a reply may wait as `awaiting_approval`.

The decisions are recorded on the reply's tool call parts (who, when, what), written in the
transaction that resumes it; only the status column needs room for the new status.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite does not enforce a VARCHAR's length (and altering a column there means batch
    # mode, which copies the table and cascades the drop): PostgreSQL only.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("messages", "status", type_=sa.String(32), existing_type=sa.String(16))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("messages", "status", type_=sa.String(16), existing_type=sa.String(32))
