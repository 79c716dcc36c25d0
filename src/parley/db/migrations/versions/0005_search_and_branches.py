"""Full-text search of titles and messages; pinned, archived and title source on conversations.

The search index lives in the database and is kept in step by the database itself, in the
transaction of every write that changes indexed text (insert, checkpoint, edit, delete):
- SQLite: two FTS5 tables filled by triggers. A message's index row has the rowid
  `conversation rowid << 20 | seq`, and a title's the conversation's rowid: the conversation of
  a hit is known from the index alone, and a conversation's hits are one rowid range. The rowids
  of `conversations` must not change: a migration that rebuilds that table (batch mode) must
  rebuild both indexes (the INSERT … SELECT statements below do it). Messages past the
  1,048,575th of a conversation are not indexed.
- PostgreSQL: a generated `tsvector` column with a GIN index on each table.
Only the first 100,000 characters of a message are indexed: a PostgreSQL `tsvector` is limited
to 1 MB, and a checkpoint re-indexes the reply so far, which must stay bounded.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEXED_CHARS = 100_000

SEQ_BITS = 20
_MAX_SEQ = (1 << SEQ_BITS) - 1

_SQLITE_MESSAGE_ROW = f"""
    INSERT INTO message_search(rowid, body, message_id)
    SELECT (c.rowid << {SEQ_BITS}) | new.seq, substr(new.text, 1, {INDEXED_CHARS}), new.id
    FROM conversations AS c WHERE c.id = new.conversation_id;
"""
_SQLITE_MESSAGE_GONE = f"""
    DELETE FROM message_search WHERE rowid = (
        SELECT (c.rowid << {SEQ_BITS}) | old.seq FROM conversations AS c
        WHERE c.id = old.conversation_id);
"""

_SQLITE = [
    # unicode61 folds case and (with remove_diacritics 2) accents; no stemming: the same words
    # match in every language.
    """CREATE VIRTUAL TABLE message_search USING fts5(
        body, message_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')""",
    """CREATE VIRTUAL TABLE title_search USING fts5(
        title, tokenize = 'unicode61 remove_diacritics 2')""",
    # A reply's placeholder is inserted empty: nothing to index until it has text.
    f"""CREATE TRIGGER messages_search_ai AFTER INSERT ON messages
        WHEN new.seq <= {_MAX_SEQ} AND new.text != '' BEGIN {_SQLITE_MESSAGE_ROW} END""",
    f"""CREATE TRIGGER messages_search_au AFTER UPDATE OF text ON messages
        WHEN new.text IS NOT old.text AND new.seq <= {_MAX_SEQ} BEGIN
        {_SQLITE_MESSAGE_GONE} {_SQLITE_MESSAGE_ROW} END""",
    f"CREATE TRIGGER messages_search_ad AFTER DELETE ON messages BEGIN {_SQLITE_MESSAGE_GONE} END",
    """CREATE TRIGGER conversations_search_ai AFTER INSERT ON conversations BEGIN
        INSERT INTO title_search(rowid, title) VALUES (new.rowid, new.title); END""",
    """CREATE TRIGGER conversations_search_au AFTER UPDATE OF title ON conversations
        WHEN new.title IS NOT old.title BEGIN
        DELETE FROM title_search WHERE rowid = old.rowid;
        INSERT INTO title_search(rowid, title) VALUES (new.rowid, new.title); END""",
    # Its messages' rows too, by their rowid range: a rowid may be reused by a later
    # conversation, which must not inherit stale hits (whatever order a delete runs in).
    f"""CREATE TRIGGER conversations_search_ad AFTER DELETE ON conversations BEGIN
        DELETE FROM title_search WHERE rowid = old.rowid;
        DELETE FROM message_search WHERE rowid BETWEEN old.rowid << {SEQ_BITS}
            AND (old.rowid << {SEQ_BITS}) | {_MAX_SEQ}; END""",
    # What is already stored.
    f"""INSERT INTO message_search(rowid, body, message_id)
        SELECT (c.rowid << {SEQ_BITS}) | m.seq, substr(m.text, 1, {INDEXED_CHARS}), m.id
        FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id
        WHERE m.seq <= {_MAX_SEQ}""",
    "INSERT INTO title_search(rowid, title) SELECT rowid, title FROM conversations",
]

_POSTGRESQL = [
    # 'simple': lower-cased words, no stemming and no stop words, as on SQLite.
    f"""ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS
        (to_tsvector('simple'::regconfig, left(text, {INDEXED_CHARS}))) STORED""",
    "CREATE INDEX ix_messages_search ON messages USING gin (search)",
    """ALTER TABLE conversations ADD COLUMN search tsvector GENERATED ALWAYS AS
        (to_tsvector('simple'::regconfig, title)) STORED""",
    "CREATE INDEX ix_conversations_search ON conversations USING gin (search)",
    # The new columns have no statistics until a tenth of the rows change: without them the
    # planner misjudges every search.
    "ANALYZE messages, conversations",
]


def upgrade() -> None:
    # Plain ADD COLUMN, never batch mode: on SQLite batch mode copies the table and drops the
    # old one, and with foreign keys on, dropping `conversations` deletes every message.
    op.add_column(
        "conversations",
        sa.Column("title_source", sa.String(16), nullable=False, server_default="prompt"),
    )
    op.add_column(
        "conversations",
        sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "conversations",
        sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_conversations_owner_id_archived_pinned_updated_at_id",
        "conversations",
        ["owner_id", "archived", "pinned", "updated_at", "id"],
    )
    statements = _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRESQL
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("messages_search_ai", "messages_search_au", "messages_search_ad"):
            op.execute(f"DROP TRIGGER {name}")
        for name in ("conversations_search_ai", "conversations_search_au"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TRIGGER conversations_search_ad")
        op.execute("DROP TABLE message_search")
        op.execute("DROP TABLE title_search")
    else:
        op.execute("DROP INDEX ix_messages_search")
        op.execute("ALTER TABLE messages DROP COLUMN search")
        op.execute("DROP INDEX ix_conversations_search")
        op.execute("ALTER TABLE conversations DROP COLUMN search")
    op.drop_index("ix_conversations_owner_id_archived_pinned_updated_at_id", "conversations")
    # ALTER TABLE … DROP COLUMN on both (SQLite 3.35+), for the reason given in upgrade().
    for column in ("archived", "pinned", "title_source"):
        op.execute(f"ALTER TABLE conversations DROP COLUMN {column}")
