"""Conversations and messages in the database: every read and write of them goes through here.

Every method takes the owner and scopes its query by it, so a conversation of another owner
is indistinguishable from one that does not exist.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db.clock import as_utc, now
from ..db.engine import lock_key, write
from ..db.erase import delete_conversations
from ..db.ids import new_id
from ..db.tables import conversations, messages, runs
from .history import HistoryCache, dump_clean, dump_messages, read_history
from .models import Conversation, Message, Part, Status, TextPart, Usage
from .tree import load_tree

# What a message list reads: not the model's messages, the largest column by far and not what
# the UI shows.
_LISTED = [c for c in messages.c if c.name not in ("model_messages", "updated_at")]


@dataclass(frozen=True)
class Turn:
    """The rows a new prompt creates: the user's message and the assistant's placeholder."""

    conversation_id: str
    user: Message
    assistant: Message
    history: list[ModelMessage]
    user_request_json: str


class ConversationBusy(Exception):
    """The conversation already has a reply being generated."""


class TooManyReplies(Exception):
    """The owner already has as many replies generating as allowed."""


class BadCursor(ValueError):
    """A pagination cursor this server did not give out, or that no longer points anywhere."""


class Store:
    def __init__(self, engine: AsyncEngine, history_cache_size: int = 64) -> None:
        self.engine = engine
        self.histories = HistoryCache(history_cache_size)

    # -- conversations -------------------------------------------------------------------

    async def create_conversation(self, owner: str, title: str | None = None) -> Conversation:
        stamp = now()
        row = {
            "id": new_id(),
            "owner_id": owner,
            "title": title or "New chat",
            "current_leaf_id": None,
            "created_at": stamp,
            "updated_at": stamp,
        }
        async with write(self.engine) as conn:
            await conn.execute(conversations.insert().values(**row))
        return _conversation(row)

    async def list_conversations(
        self, owner: str, limit: int, cursor: str | None = None
    ) -> tuple[list[Conversation], str | None]:
        c = conversations.c
        query = sa.select(conversations, _active_run()).where(c.owner_id == owner)
        if cursor is not None:
            updated_at, last_id = _decode_cursor(cursor)
            query = query.where(
                sa.or_(
                    c.updated_at < updated_at,
                    sa.and_(c.updated_at == updated_at, c.id < last_id),
                )
            )
        query = query.order_by(c.updated_at.desc(), c.id.desc()).limit(limit + 1)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        items = [_conversation(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = _encode_cursor(as_utc(last["updated_at"]), last["id"])
        return items, next_cursor

    async def get_conversation(self, owner: str, conversation_id: str) -> Conversation | None:
        async with self.engine.connect() as conn:
            row = await _conversation_row(conn, owner, conversation_id)
        return _conversation(row) if row else None

    async def rename_conversation(
        self, owner: str, conversation_id: str, title: str
    ) -> Conversation | None:
        async with write(self.engine) as conn:
            result = await conn.execute(
                conversations.update()
                .where(_owned(owner, conversation_id))
                .values(title=title, updated_at=now())
            )
            if result.rowcount == 0:
                return None
            row = await _conversation_row(conn, owner, conversation_id)
        return _conversation(row) if row else None

    async def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        """Delete it with its messages and runs; a reply generating in any process then stops
        (its process finds the run row gone at its next checkpoint)."""
        async with write(self.engine) as conn:
            deleted = await delete_conversations(conn, _owned(owner, conversation_id))
        self.histories.forget(conversation_id)
        return deleted > 0

    # -- messages ------------------------------------------------------------------------

    async def list_messages(
        self, owner: str, conversation_id: str, limit: int, before: str | None = None
    ) -> tuple[list[Message], str | None] | None:
        """The newest `limit` messages of the current branch older than `before`, oldest first."""
        async with self.engine.connect() as conn:
            conv = await _conversation_row(conn, owner, conversation_id)
            if conv is None:
                return None
            path = (await load_tree(conn, conversation_id)).branch(conv["current_leaf_id"])
            if before is not None and before not in path:
                # A client paging after a delete or a branch switch must start again, not be
                # handed the newest page as if it were the next one.
                raise BadCursor(before)
            end = path.index(before) if before is not None else len(path)
            start = max(0, end - limit)
            page_ids = path[start:end]
            rows = (
                (await conn.execute(sa.select(*_LISTED).where(messages.c.id.in_(page_ids))))
                .mappings()
                .all()
            )
        by_id = {r["id"]: r for r in rows}
        items = [_message(by_id[i]) for i in page_ids if i in by_id]
        return items, (page_ids[0] if start > 0 else None)

    async def get_message(
        self, owner: str, conversation_id: str, message_id: str
    ) -> Message | None:
        query = (
            sa.select(messages)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(_owned(owner, conversation_id), messages.c.id == message_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _message(row) if row else None

    async def export(
        self, owner: str, conversation_id: str
    ) -> tuple[Conversation, list[tuple[Message, Any]]] | None:
        """The conversation and its current branch, each message with its Pydantic AI JSON."""
        async with self.engine.connect() as conn:
            conv = await _conversation_row(conn, owner, conversation_id)
            if conv is None:
                return None
            path = (await load_tree(conn, conversation_id)).branch(conv["current_leaf_id"])
            rows = (
                (await conn.execute(sa.select(messages).where(messages.c.id.in_(path))))
                .mappings()
                .all()
            )
        by_id = {r["id"]: r for r in rows}
        return _conversation(conv), [
            (_message(by_id[i]), json.loads(by_id[i]["model_messages"])) for i in path
        ]

    async def start_turn(
        self,
        owner: str,
        conversation_id: str,
        prompt: str,
        user_request: Sequence[ModelMessage],
        run_id: str,
        model: str,
        process_id: str = "",
        max_replies: int | None = None,
    ) -> Turn | None:
        """Save the user's message, an empty assistant message and the run, in one transaction.

        None if the conversation does not exist (or was deleted meanwhile). Raises
        ConversationBusy if it has a reply generating, TooManyReplies if the owner has
        `max_replies` generating: both decided inside the transaction, so a burst of sends, in
        one process or several, cannot all pass the check before any of them writes.
        Also returns the model history of the branch the prompt continues, read in the same
        transaction so it matches the rows just written.
        """
        stamp = now()
        try:
            async with write(self.engine) as conn:
                # Row lock (PostgreSQL): two processes starting a reply in one conversation at once
                # take turns here, and the second sees the first's `generating` message.
                conv = await _conversation_row(conn, owner, conversation_id, for_update=True)
                if conv is None:
                    return None
                tree = await load_tree(conn, conversation_id)
                if tree.generating:
                    raise ConversationBusy(conversation_id)
                if max_replies is not None:
                    await lock_key(conn, f"replies:{owner}")
                    running = await conn.scalar(
                        sa.select(sa.func.count())
                        .select_from(runs)
                        .where(runs.c.owner_id == owner, runs.c.status == "running")
                    )
                    if (running or 0) >= max_replies:
                        raise TooManyReplies(owner)
                parent_id = conv["current_leaf_id"]
                history = self.histories.get(conversation_id, parent_id)
                if history is None:
                    history = await read_history(conn, tree.branch(parent_id))
                user = {
                    "id": new_id(),
                    "conversation_id": conversation_id,
                    "parent_id": parent_id,
                    "seq": tree.max_seq + 1,
                    "role": "user",
                    "text": prompt,
                    "parts": [TextPart(text=prompt).model_dump()],
                    "model_messages": dump_messages(user_request),
                    "status": "complete",
                    "error": None,
                    "model": None,
                    "usage": None,
                    "run_id": run_id,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                assistant = user | {
                    "id": new_id(),
                    "parent_id": user["id"],
                    "seq": user["seq"] + 1,
                    "role": "assistant",
                    "text": "",
                    "parts": [],
                    "model_messages": "[]",
                    "status": "generating",
                    "model": model,
                }
                await conn.execute(messages.insert(), [user, assistant])
                await conn.execute(
                    runs.insert().values(
                        id=run_id,
                        conversation_id=conversation_id,
                        owner_id=owner,
                        message_id=assistant["id"],
                        process_id=process_id,
                        status="running",
                        stop_requested=False,
                        heartbeat_at=stamp,
                        created_at=stamp,
                    )
                )
                values: dict[str, Any] = {"current_leaf_id": assistant["id"], "updated_at": stamp}
                if parent_id is None and conv["title"] == "New chat":
                    values["title"] = _title_from(prompt)
                await conn.execute(
                    conversations.update()
                    .where(conversations.c.id == conversation_id)
                    .values(**values)
                )
                return Turn(
                    conversation_id,
                    _message(user),
                    _message(assistant),
                    history,
                    user["model_messages"],
                )
        except IntegrityError:
            # The conversation was deleted between our read and our insert.
            return None

    async def finish_turn(
        self,
        turn: Turn,
        *,
        user_request: Sequence[ModelMessage] | None,
        response_messages: Sequence[ModelMessage],
        parts: Sequence[Part],
        status: Status,
        error: str | None,
        usage: Usage | None,
    ) -> Message:
        """Save the run's new messages, and mark the run finished, in one transaction."""
        stamp = now()
        text = text_of(parts)
        response_json, response_messages = dump_clean(response_messages)
        values = {
            "text": text,
            "parts": [p.model_dump() for p in parts],
            "model_messages": response_json,
            "status": status,
            "error": error,
            "usage": usage.model_dump() if usage else None,
            "updated_at": stamp,
        }
        request: list[ModelMessage] | None = None
        async with write(self.engine) as conn:
            if user_request is not None:
                request_json, request = dump_clean(user_request)
                await conn.execute(
                    messages.update()
                    .where(messages.c.id == turn.user.id)
                    .values(model_messages=request_json)
                )
            await conn.execute(
                messages.update().where(messages.c.id == turn.assistant.id).values(**values)
            )
            await _end_run(conn, turn, stamp)
        if request is None:
            request = ModelMessagesTypeAdapter.validate_json(turn.user_request_json)
        self.histories.put(
            turn.conversation_id,
            turn.assistant.id,
            [*turn.history, *request, *response_messages],
        )
        return turn.assistant.model_copy(
            update={
                "text": text,
                "parts": list(parts),
                "status": status,
                "error": error,
                "usage": usage,
            }
        )

    async def fail_turn(self, turn: Turn, parts: Sequence[Part], error: str) -> None:
        """Mark a reply that could not be saved as an error, keeping the parts shown so far
        (without the model's messages), and end its run; if even that fails, end the run."""
        stamp = now()
        values = {"status": "error", "error": error, "updated_at": stamp}
        try:
            async with write(self.engine) as conn:
                await conn.execute(
                    messages.update()
                    .where(messages.c.id == turn.assistant.id)
                    .values(**values, text=text_of(parts), parts=[p.model_dump() for p in parts])
                )
                await _end_run(conn, turn, stamp)
        except Exception:
            async with write(self.engine) as conn:
                await conn.execute(
                    messages.update().where(messages.c.id == turn.assistant.id).values(**values)
                )
                await _end_run(conn, turn, stamp)
        self.histories.forget(turn.conversation_id)


async def _end_run(conn: AsyncConnection, turn: Turn, stamp: datetime) -> None:
    await conn.execute(
        runs.update()
        .where(runs.c.id == turn.assistant.run_id)
        .values(status="finished", heartbeat_at=stamp)
    )
    await conn.execute(
        conversations.update()
        .where(conversations.c.id == turn.conversation_id)
        .values(updated_at=stamp)
    )


def _active_run() -> sa.Label[Any]:
    """The id of the reply generating in a conversation, in any process (a column)."""
    return (
        sa.select(runs.c.id)
        .where(runs.c.conversation_id == conversations.c.id, runs.c.status == "running")
        .limit(1)
        .scalar_subquery()
        .label("active_run_id")
    )


def _owned(owner: str, conversation_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(conversations.c.id == conversation_id, conversations.c.owner_id == owner)


async def _conversation_row(
    conn: AsyncConnection, owner: str, conversation_id: str, *, for_update: bool = False
) -> sa.RowMapping | None:
    query = sa.select(conversations).where(_owned(owner, conversation_id))
    # SQLite has no row locks (its writes are serial); a locked read needs no run column.
    query = query.with_for_update() if for_update else query.add_columns(_active_run())
    return (await conn.execute(query)).mappings().first()


def text_of(parts: Sequence[Part]) -> str:
    return "\n\n".join(p.text for p in parts if isinstance(p, TextPart))


def _title_from(prompt: str) -> str:
    first_line = prompt.strip().splitlines()[0] if prompt.strip() else "New chat"
    return first_line[:77] + "…" if len(first_line) > 80 else first_line


def _conversation(row: sa.RowMapping | dict[str, Any]) -> Conversation:
    return Conversation(
        id=row["id"],
        title=row["title"],
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        active_run_id=row.get("active_run_id"),
    )


def _message(row: sa.RowMapping | dict[str, Any]) -> Message:
    return Message.model_validate(
        {
            "id": row["id"],
            "conversation_id": row["conversation_id"],
            "parent_id": row["parent_id"],
            "role": row["role"],
            "text": row["text"],
            "parts": row["parts"],
            "status": row["status"],
            "error": row["error"],
            "model": row["model"],
            "usage": row["usage"],
            "run_id": row["run_id"],
            "created_at": as_utc(row["created_at"]),
        }
    )


def _encode_cursor(updated_at: datetime, last_id: str) -> str:
    raw = f"{updated_at.isoformat()}|{last_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, last_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), last_id
    except ValueError as exc:
        raise BadCursor("invalid cursor") from exc
