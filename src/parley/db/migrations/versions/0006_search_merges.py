"""SQLite's message index merges its segments sixteen at a time, and lists its words.

FTS5 writes each transaction's words as a new segment and merges segments level by level as
they pile up: with `automerge` at 4 every word is rewritten about log4(n) times over its life,
at 16 about log16(n), half as often. That merging was most of what the index cost a turn
(`python -m bench.search`: +0.8 ms of CPU per turn's writes at 200,000 messages, +0.3 ms at
16). A search then reads up to 15 segments a level instead of 3, which costs it little.
The setting is stored in the index itself.

`message_search_terms` (an `fts5vocab` table) lists the index's words and how many messages
hold each: `chat/search.py` reads the words a typed prefix begins, so that a prefix of a very
common word is not merged from every list it covers. PostgreSQL is unchanged.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _automerge(segments: int) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"INSERT INTO message_search(message_search, rank) VALUES ('automerge', {segments})"
        )


def upgrade() -> None:
    _automerge(16)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE message_search_terms USING fts5vocab(message_search, 'row')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE message_search_terms")
    _automerge(4)
