"""Ratings of replies: "good" or "bad", with an optional comment, one per reply, its owner's.

A rating belongs to the reply (a row of `feedback` keyed by the message id, deleted with it)
and is set by whoever owns the conversation, and by no one else: every statement here is
scoped by the owner, and a message that is not theirs, or is not a reply, is answered as if
it did not exist. `rated_turns` reads an owner's rated replies with the branch that led to
each, a batch of conversations at a time, for the dataset (chat/dataset.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db.clock import as_utc, now
from ..db.engine import write
from ..db.tables import TIME, conversations, feedback, messages
from .models import Rating

# A comment says why in a few sentences; the limit keeps one rating from weighing megabytes.
MAX_COMMENT_CHARS = 4000
# Conversations read at once by the export, and message ids per IN list (both databases cap
# a statement's parameters; SQLite at 32,766).
_BATCH = 20
_IDS_PER_QUERY = 500


@dataclass(frozen=True)
class Rated:
    """A reply's rating as stored."""

    message_id: str
    conversation_id: str
    rating: Rating
    comment: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Turn:
    """One message of the branch before a rated reply, as text."""

    role: str
    text: str


@dataclass(frozen=True)
class RatedTurn:
    """A rated reply, the prompt it answers and the branch before that prompt."""

    rated: Rated
    prompt: str
    history: list[Turn]
    reply: str
    model: str | None


class Feedback:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def rate(
        self,
        owner: str,
        conversation_id: str,
        message_id: str,
        rating: Rating,
        comment: str | None = None,
    ) -> Rated | None:
        """Set the owner's rating of a reply, replacing the one it had (comment included).
        None: no such reply of the owner's (another's, a prompt, or none at all)."""
        stamp = now()
        c = messages.c
        # The reply, if it is the owner's: the row to insert is selected from it, so the check
        # and the write are one statement, which no delete can come between.
        source = (
            sa.select(
                c.id,
                sa.literal(owner, sa.String),
                c.conversation_id,
                sa.literal(rating, sa.String),
                sa.literal(comment, sa.Text),
                sa.literal(stamp, TIME),
                sa.literal(stamp, TIME),
            )
            .join(conversations, conversations.c.id == c.conversation_id)
            .where(_owned_reply(owner, conversation_id, message_id))
        )
        columns = [
            "message_id",
            "owner_id",
            "conversation_id",
            "rating",
            "comment",
            "created_at",
            "updated_at",
        ]
        try:
            async with write(self.engine) as conn:
                insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
                statement = insert(feedback).from_select(columns, source)
                # One row per reply however many requests race, on both databases: a second
                # insert finds the first (PostgreSQL waits for it to commit) and updates it
                # instead. The first rating's time stays as created_at.
                upsert = statement.on_conflict_do_update(
                    index_elements=[feedback.c.message_id],
                    set_={
                        "rating": statement.excluded.rating,
                        "comment": statement.excluded.comment,
                        "updated_at": statement.excluded.updated_at,
                    },
                ).returning(feedback.c.created_at)
                created = (await conn.execute(upsert)).scalar()
        except IntegrityError:
            # The reply was deleted between the select and the insert (PostgreSQL's foreign
            # key finds it gone): as if it had never been there.
            return None
        if created is None:
            return None
        return Rated(
            message_id=message_id,
            conversation_id=conversation_id,
            rating=rating,
            comment=comment,
            created_at=as_utc(created),
            updated_at=stamp,
        )

    async def clear(self, owner: str, conversation_id: str, message_id: str) -> bool:
        """Remove the owner's rating of a reply (done if it had none). False: no such reply of
        the owner's."""
        f = feedback.c
        async with write(self.engine) as conn:
            removed = await conn.execute(
                feedback.delete().where(
                    f.message_id == message_id,
                    f.conversation_id == conversation_id,
                    f.owner_id == owner,
                )
            )
            if removed.rowcount:
                return True
            return await _is_reply(conn, owner, conversation_id, message_id)

    async def get(self, owner: str, conversation_id: str, message_id: str) -> Rated | None:
        """The owner's rating of a reply, if it has one."""
        f = feedback.c
        query = sa.select(feedback).where(
            f.message_id == message_id, f.conversation_id == conversation_id, f.owner_id == owner
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _rated(row) if row else None

    async def rated_turns(self, owner: str) -> AsyncIterator[list[RatedTurn]]:
        """The owner's rated replies, each with its prompt and the branch before it, in
        batches: a batch of conversations (the oldest first) is read, handed out and dropped
        before the next, so memory holds a batch, whatever the number of ratings.

        Each reply's branch is walked up its parent links, in memory, from one read of its
        conversation's tree (ids only); the texts are read once per batch, only those of the
        messages on some rated reply's branch."""
        async with self.engine.connect() as conn:
            order = await _rated_conversations(conn, owner)
        for start in range(0, len(order), _BATCH):
            async with self.engine.connect() as conn:
                batch = await _turns(conn, owner, order[start : start + _BATCH])
            if batch:
                yield batch


def _owned_reply(owner: str, conversation_id: str, message_id: str) -> sa.ColumnElement[bool]:
    """The reply `message_id` of `owner`'s conversation (a select joining `conversations`)."""
    c = messages.c
    return sa.and_(
        c.id == message_id,
        c.conversation_id == conversation_id,
        c.role == "assistant",
        conversations.c.owner_id == owner,
    )


async def _is_reply(
    conn: AsyncConnection, owner: str, conversation_id: str, message_id: str
) -> bool:
    found = await conn.scalar(
        sa.select(messages.c.id)
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .where(_owned_reply(owner, conversation_id, message_id))
    )
    return found is not None


async def _rated_conversations(conn: AsyncConnection, owner: str) -> list[str]:
    """The owner's conversations holding a rated reply, the oldest first: one pass, ids only."""
    f, cv = feedback.c, conversations.c
    query = (
        sa.select(f.conversation_id, cv.created_at)
        .join(conversations, cv.id == f.conversation_id)
        .where(f.owner_id == owner, cv.owner_id == owner)
        .group_by(f.conversation_id, cv.created_at)
        .order_by(cv.created_at, f.conversation_id)
    )
    return [conversation_id for conversation_id, _ in await conn.execute(query)]


async def _turns(conn: AsyncConnection, owner: str, ids: list[str]) -> list[RatedTurn]:
    f, c = feedback.c, messages.c
    ratings = (
        (
            await conn.execute(
                sa.select(feedback).where(f.conversation_id.in_(ids), f.owner_id == owner)
            )
        )
        .mappings()
        .all()
    )
    parent: dict[str, str | None] = {}
    seq: dict[str, tuple[int, int]] = {}
    order = {conversation_id: i for i, conversation_id in enumerate(ids)}
    tree = await conn.execute(
        sa.select(c.id, c.parent_id, c.conversation_id, c.seq).where(c.conversation_id.in_(ids))
    )
    for message_id, parent_id, conversation_id, number in tree:
        parent[message_id] = parent_id
        seq[message_id] = (order[conversation_id], number)
    paths = {r["message_id"]: _path(parent, r["message_id"]) for r in ratings}
    texts = await _texts(conn, sorted({i for path in paths.values() for i in path}))
    found: list[RatedTurn] = []
    for row in sorted(ratings, key=lambda r: seq.get(r["message_id"], (0, 0))):
        turn = _turn(_rated(row), paths[row["message_id"]], texts)
        if turn is not None:
            found.append(turn)
    return found


def _path(parent: dict[str, str | None], leaf: str) -> list[str]:
    """Message ids from the root to `leaf`, following parent links."""
    path: list[str] = []
    node: str | None = leaf
    while node is not None and node in parent:
        path.append(node)
        node = parent[node]
    path.reverse()
    return path


@dataclass(frozen=True)
class _Text:
    role: str
    text: str
    model: str | None


async def _texts(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, _Text]:
    c = messages.c
    texts: dict[str, _Text] = {}
    for start in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[start : start + _IDS_PER_QUERY]
        rows = await conn.execute(sa.select(c.id, c.role, c.text, c.model).where(c.id.in_(chunk)))
        for message_id, role, text, model in rows:
            texts[message_id] = _Text(role, text, model)
    return texts


def _turn(rated: Rated, path: list[str], texts: dict[str, _Text]) -> RatedTurn | None:
    """The rated reply at the end of `path`, its prompt, and the turns before it. None if the
    branch is not prompt-then-reply (which Parley never writes)."""
    shown = [texts[i] for i in path if i in texts]
    if len(shown) < 2 or shown[-1].role != "assistant" or shown[-2].role != "user":
        return None
    history: list[Turn] = []
    earlier = shown[:-2]
    i = 0
    while i < len(earlier):
        message = earlier[i]
        reply = earlier[i + 1] if i + 1 < len(earlier) else None
        if message.role != "user" or reply is None or reply.role != "assistant":
            history.append(Turn(message.role, message.text))
            i += 1
            continue
        # A turn whose reply said nothing (it failed, or was stopped before the model wrote
        # a word) is left out with its prompt, as the model's history leaves it out.
        if reply.text:
            history += [Turn("user", message.text), Turn("assistant", reply.text)]
        i += 2
    return RatedTurn(
        rated=rated,
        prompt=shown[-2].text,
        history=history,
        reply=shown[-1].text,
        model=shown[-1].model,
    )


def _rated(row: sa.RowMapping) -> Rated:
    return Rated(
        message_id=row["message_id"],
        conversation_id=row["conversation_id"],
        rating=row["rating"],
        comment=row["comment"],
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
    )
