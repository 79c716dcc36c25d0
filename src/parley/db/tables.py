"""The database schema: the one source of truth, mirrored by the Alembic migrations.

Designed for what comes next without a rewrite: every conversation has an owner, messages
form a tree (`parent_id`; the conversation's `current_leaf_id` marks the branch shown), and
an assistant message carries its run's state (`status`, `run_id`) so a reply can outlive the
HTTP request that started it.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = sa.String(32)
TIME = sa.DateTime(timezone=True)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_id", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    # Who wrote the title: "default" (none yet), "prompt" (the first prompt's first line, until
    # the model writes one), "model", or "user" (a rename: never overwritten).
    sa.Column("title_source", sa.String(16), nullable=False, server_default="prompt"),
    # The leaf of the branch the UI shows; sending, editing, regenerating and switching move it.
    sa.Column("current_leaf_id", ID, nullable=True),
    sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    # The model chosen for this conversation (an id of the operator's catalog); None: the
    # default. Its own instructions, added after the operator's.
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("instructions", sa.Text, nullable=True),
    # The MCP servers switched off in this conversation (a JSON list of names; NULL: none).
    sa.Column("tools_off", sa.JSON, nullable=True),
    # Where an imported conversation came from ("chatgpt:<id>", "claude:<uuid>",
    # "parley:<id>"): importing the same file again skips it (chat/archive/). NULL: written
    # here, or imported under its own id.
    sa.Column("import_key", sa.String(200), nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
    sa.Index(None, "owner_id", "updated_at", "id"),
    sa.Index(None, "owner_id", "import_key", unique=True),
    # The sidebar's order: pinned first, then the most recent; archived ones apart.
    sa.Index(None, "owner_id", "archived", "pinned", "updated_at", "id"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "conversation_id",
        ID,
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("parent_id", ID, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
    # Insertion order within the conversation; ties between branches are broken by it.
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    # What the UI lists: text/thinking/tool parts, text with its sanitized HTML.
    sa.Column("parts", sa.JSON, nullable=False),
    # Pydantic AI's own JSON (ModelMessagesTypeAdapter) for the model messages of this turn.
    sa.Column("model_messages", sa.Text, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),  # awaiting_approval: 17
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("usage", sa.JSON, nullable=True),
    # What the Inspect view shows of a reply's making (runs/timings.py): each model request's
    # start, first token and end, each tool call's duration. Null for replies before 0012.
    sa.Column("timings", sa.JSON, nullable=True),
    sa.Column("run_id", ID, nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
    sa.Index(None, "conversation_id", "seq"),
    sa.Index(None, "status"),
    # Deleting a message looks up its children (the ON DELETE CASCADE): without this index,
    # one scan of the table per message deleted.
    sa.Index(None, "parent_id"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    # argon2id; null for users who only log in through a trusted proxy.
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("created_at", TIME, nullable=False),
)

# Only hashes of session ids and API tokens are stored: a copy of the database logs no one in.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("expires_at", TIME, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("last_used_at", TIME, nullable=True),
)

# A reply being generated, as every Parley process sharing the database sees it: which process
# runs it (and that it is alive), whether someone asked it to stop, and its events so far.
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "conversation_id",
        ID,
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("owner_id", sa.String(64), nullable=False),
    sa.Column("message_id", ID, nullable=False),
    sa.Column("process_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running | finished
    sa.Column("stop_requested", sa.Boolean, nullable=False),
    sa.Column("heartbeat_at", TIME, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Index(None, "status", "heartbeat_at"),
    sa.Index(None, "conversation_id", "status"),
    sa.Index(None, "owner_id", "status"),
)

# Written in batches (at each checkpoint and at the end), never per token.
run_events = sa.Table(
    "run_events",
    metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(16), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)

# One row per login attempt that counts against a limit, written before the password is
# checked, so a burst of attempts cannot all pass the limit before any is recorded. `key` is
# "account:<name>" or "address:<ip>"; rows older than the window are pruned.
login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("at", TIME, nullable=False),
    sa.Index(None, "key", "at"),
)


# What replies used and cost, added up per owner, conversation, UTC day and model in the
# transaction that saves each reply. Kept when a conversation is deleted (it was spent); a
# user's removal deletes theirs. Budgets and usage reports read this, never the messages.
usage_ledger = sa.Table(
    "usage_ledger",
    metadata,
    sa.Column("owner_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("conversation_id", ID, primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("replies", sa.Integer, nullable=False),
    sa.Column("input_tokens", sa.BigInteger, nullable=False),
    sa.Column("output_tokens", sa.BigInteger, nullable=False),
    sa.Column("cache_read_tokens", sa.BigInteger, nullable=False),
    sa.Column("reasoning_tokens", sa.BigInteger, nullable=False),
    # USD of the priced replies; `unpriced`: replies whose model has no known price.
    sa.Column("cost", sa.Numeric(20, 10), nullable=False),
    sa.Column("unpriced", sa.Integer, nullable=False),
    sa.Index(None, "conversation_id"),
)


# Files attached to prompts (chat/files.py). Content-addressed per owner: the same bytes
# uploaded twice by one owner are one row, so they are stored once; every process reads them
# here. `text`: a PDF's extracted text, sent to a model that takes no documents.
files = sa.Table(
    "files",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_id", sa.String(64), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # image | pdf | text
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.UniqueConstraint("owner_id", "sha256"),
)

# Which user message sent which files: what deleting a conversation reads to find the files
# nothing else uses, and what a fork copies.
message_files = sa.Table(
    "message_files",
    metadata,
    sa.Column("message_id", ID, sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("file_id", ID, sa.ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    sa.Index(None, "file_id"),
)


# Share links (chat/shares.py): a read-only snapshot of a conversation's branch at an
# unguessable id, refreshed in place ("Update link") and gone on revoke. One per conversation.
shares = sa.Table(
    "shares",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_id", sa.String(64), nullable=False),
    sa.Column(
        "conversation_id",
        ID,
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("title", sa.String(200), nullable=False),
    # The branch as Parley JSON (one conversation of docs/export-format.md), written at share
    # time and on each update: what the page shows and "Continue in my chats" copies.
    sa.Column("snapshot", sa.Text, nullable=False),
    # Whether the page shows the conversation's files (images): the owner's choice.
    sa.Column("include_files", sa.Boolean, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
    sa.Index(None, "owner_id", "updated_at"),
)


# A user's rating of a reply (chat/feedback.py): one per reply, "good" or "bad", with an
# optional comment; exported as a pydantic-evals dataset.
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("message_id", ID, sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("owner_id", sa.String(64), nullable=False),
    sa.Column(
        "conversation_id",
        ID,
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("rating", sa.String(8), nullable=False),  # good | bad
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
    sa.Index(None, "owner_id", "updated_at"),
    sa.Index(None, "conversation_id"),
)


def outside_metadata(name: str | None, type_: str) -> bool:
    """The full-text search objects of migrations 0005 and 0006: they differ by database (FTS5
    tables and triggers on SQLite, `tsvector` columns and GIN indexes on PostgreSQL), so they
    are kept out of the metadata above, and schema comparisons skip them."""
    if name is None:
        return False
    if type_ == "table":
        return name.startswith(("message_search", "title_search"))
    return name in (
        "search",
        "ix_messages_search",
        "ix_conversations_search",
    )
