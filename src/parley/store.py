"""Conversations and messages in the database: every read and write of them goes through here.

Every method takes the owner and scopes its query by it, so a conversation of another owner
is indistinguishable from one that does not exist.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .db.tables import conversations, messages, runs
from .ids import new_id
from .schemas import Conversation, Message, Part, Status, TextPart, Usage

_EMPTY = b"[]"


def now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Parley writes is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def dump_messages(model_messages: Sequence[ModelMessage]) -> str:
    return ModelMessagesTypeAdapter.dump_json(list(model_messages)).decode()


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


class Store:
    def __init__(self, engine: AsyncEngine, history_cache_size: int = 64) -> None:
        self.engine = engine
        # The last branch history read or written per conversation, keyed by its leaf: the
        # next turn's history is the previous one plus that turn's messages, so a long
        # conversation is not read and validated again on every turn. A leaf that moved (in
        # another process, or a new branch) misses the cache and reads the database.
        self._histories: OrderedDict[str, tuple[str, list[ModelMessage]]] = OrderedDict()
        self._history_cache_size = history_cache_size

    def _cached_history(
        self, conversation_id: str, leaf_id: str | None
    ) -> list[ModelMessage] | None:
        if leaf_id is None:
            return []
        entry = self._histories.get(conversation_id)
        if entry is None or entry[0] != leaf_id:
            return None
        self._histories.move_to_end(conversation_id)
        return list(entry[1])

    def _remember_history(
        self, conversation_id: str, leaf_id: str, history: list[ModelMessage]
    ) -> None:
        self._histories[conversation_id] = (leaf_id, history)
        self._histories.move_to_end(conversation_id)
        while len(self._histories) > self._history_cache_size:
            self._histories.popitem(last=False)

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
        async with self.engine.begin() as conn:
            await conn.execute(conversations.insert().values(**row))
        return _conversation(row)

    async def list_conversations(
        self, owner: str, limit: int, cursor: str | None = None
    ) -> tuple[list[Conversation], str | None]:
        c = conversations.c
        query = sa.select(conversations).where(c.owner_id == owner)
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
        async with self.engine.begin() as conn:
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
        async with self.engine.begin() as conn:
            result = await conn.execute(
                conversations.delete().where(_owned(owner, conversation_id))
            )
        return bool(result.rowcount)

    # -- messages ------------------------------------------------------------------------

    async def list_messages(
        self, owner: str, conversation_id: str, limit: int, before: str | None = None
    ) -> tuple[list[Message], str | None] | None:
        """The newest `limit` messages of the current branch older than `before`, oldest first."""
        async with self.engine.connect() as conn:
            conv = await _conversation_row(conn, owner, conversation_id)
            if conv is None:
                return None
            path = (await _tree(conn, conversation_id)).branch(conv["current_leaf_id"])
            end = path.index(before) if before in path else len(path)
            start = max(0, end - limit)
            page_ids = path[start:end]
            rows = (
                (await conn.execute(sa.select(messages).where(messages.c.id.in_(page_ids))))
                .mappings()
                .all()
            )
        by_id = {r["id"]: r for r in rows}
        items = [_message(by_id[i]) for i in page_ids if i in by_id]
        return items, (page_ids[0] if start > 0 else None)

    async def export(
        self, owner: str, conversation_id: str
    ) -> tuple[Conversation, list[tuple[Message, Any]]] | None:
        """The conversation and its current branch, each message with its Pydantic AI JSON."""
        async with self.engine.connect() as conn:
            conv = await _conversation_row(conn, owner, conversation_id)
            if conv is None:
                return None
            path = (await _tree(conn, conversation_id)).branch(conv["current_leaf_id"])
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
    ) -> Turn | None:
        """Save the user's message, an empty assistant message and the run, in one transaction.

        Also returns the model history of the branch the prompt continues, read in the same
        transaction so it matches the rows just written.
        """
        stamp = now()
        async with self.engine.begin() as conn:
            # Row lock (PostgreSQL): two processes starting a reply in one conversation at once
            # take turns here, and the second sees the first's `generating` message.
            conv = await _conversation_row(conn, owner, conversation_id, for_update=True)
            if conv is None:
                return None
            tree = await _tree(conn, conversation_id)
            if tree.generating:
                raise ConversationBusy(conversation_id)
            parent_id = conv["current_leaf_id"]
            history = self._cached_history(conversation_id, parent_id)
            if history is None:
                history = await _history(conn, tree.branch(parent_id))
            seq = tree.max_seq
            user = {
                "id": new_id(),
                "conversation_id": conversation_id,
                "parent_id": parent_id,
                "seq": (seq or 0) + 1,
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
                conversations.update().where(conversations.c.id == conversation_id).values(**values)
            )
        return Turn(
            conversation_id, _message(user), _message(assistant), history, user["model_messages"]
        )

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
        values = {
            "text": text,
            "parts": [p.model_dump() for p in parts],
            "model_messages": dump_messages(response_messages),
            "status": status,
            "error": error,
            "usage": usage.model_dump() if usage else None,
            "updated_at": stamp,
        }
        async with self.engine.begin() as conn:
            if user_request is not None:
                await conn.execute(
                    messages.update()
                    .where(messages.c.id == turn.user.id)
                    .values(model_messages=dump_messages(user_request))
                )
            await conn.execute(
                messages.update().where(messages.c.id == turn.assistant.id).values(**values)
            )
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
        request = list(user_request) if user_request is not None else None
        if request is None:
            request = ModelMessagesTypeAdapter.validate_json(turn.user_request_json)
        self._remember_history(
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


def _owned(owner: str, conversation_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(conversations.c.id == conversation_id, conversations.c.owner_id == owner)


async def _conversation_row(
    conn: AsyncConnection, owner: str, conversation_id: str, *, for_update: bool = False
) -> sa.RowMapping | None:
    query = sa.select(conversations).where(_owned(owner, conversation_id))
    if for_update:
        query = query.with_for_update()  # SQLite has no row locks; its writes are serial
    return (await conn.execute(query)).mappings().first()


@dataclass(frozen=True)
class _Tree:
    """The shape of a conversation's message tree: enough to find a branch and the next seq."""

    parent: dict[str, str | None]
    max_seq: int
    generating: bool

    def branch(self, leaf_id: str | None) -> list[str]:
        """Message ids from the root to `leaf_id`, following parent links."""
        path: list[str] = []
        node = leaf_id
        while node is not None and node in self.parent:
            path.append(node)
            node = self.parent[node]
        path.reverse()
        return path


async def _tree(conn: AsyncConnection, conversation_id: str) -> _Tree:
    c = messages.c
    rows = await conn.execute(
        sa.select(c.id, c.parent_id, c.seq, c.status).where(c.conversation_id == conversation_id)
    )
    parent: dict[str, str | None] = {}
    max_seq = 0
    generating = False
    for message_id, parent_id, seq, status in rows:
        parent[message_id] = parent_id
        max_seq = max(max_seq, seq)
        generating = generating or status == "generating"
    return _Tree(parent, max_seq, generating)


async def _history(conn: AsyncConnection, path: list[str]) -> list[ModelMessage]:
    if not path:
        return []
    rows = await conn.execute(
        sa.select(messages.c.id, messages.c.model_messages).where(messages.c.id.in_(path))
    )
    stored = {row[0]: row[1] for row in rows}
    # One validation pass over the whole branch: join the stored JSON arrays into one.
    chunks = [stored[i].strip()[1:-1] for i in path if stored.get(i, "[]").strip() != "[]"]
    return ModelMessagesTypeAdapter.validate_json("[" + ",".join(chunks) + "]")


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


class BadCursor(ValueError):
    pass


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, last_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), last_id
    except ValueError as exc:
        raise BadCursor("invalid cursor") from exc
