"""Conversations as Parley JSON (format.py): one conversation, or all of an owner's, streamed.

Exporting reads rows and writes JSON; nothing is validated or rendered again. Each message's
Pydantic AI JSON is stored as text and spliced into the output as it is, so an export costs a
read of the rows and one `json.dumps` of the rest, and a message's model messages come out
exactly as they were stored.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ...db.clock import as_utc, now
from ...db.tables import conversations, files, message_files, messages
from ..rows import owned, tools_off_of
from ..tree import load_tree
from .format import ArchivedConversation, header

# Conversations read per query when exporting everything: few enough that their messages fit
# in memory whatever their size, enough that a thousand conversations are fifty queries.
_BATCH = 20
_MESSAGE_FIELDS = (
    "id",
    "parent_id",
    "role",
    "status",
    "text",
    "parts",
    "error",
    "model",
    "usage",
)


async def archived(
    conn: AsyncConnection,
    owner: str,
    conversation_id: str,
    *,
    branch_only: bool = False,
    with_files: bool = True,
) -> ArchivedConversation | None:
    """The owner's conversation as Parley JSON: every branch, or the branch shown
    (`branch_only`, a share's snapshot), with its files' bytes or without (`with_files`)."""
    text = await conversation_json(
        conn, owner, conversation_id, branch_only=branch_only, with_files=with_files
    )
    return None if text is None else ArchivedConversation.model_validate_json(text)


async def conversation_json(
    conn: AsyncConnection,
    owner: str,
    conversation_id: str,
    *,
    branch_only: bool = False,
    with_files: bool = True,
) -> str | None:
    """`archived`, as the JSON text an export writes."""
    row = (
        (await conn.execute(sa.select(conversations).where(owned(owner, conversation_id))))
        .mappings()
        .first()
    )
    if row is None:
        return None
    query = sa.select(messages).where(messages.c.conversation_id == conversation_id)
    if branch_only:
        path = (await load_tree(conn, conversation_id)).branch(row["current_leaf_id"])
        query = query.where(messages.c.id.in_(path))
    rows = (await conn.execute(query.order_by(messages.c.seq))).mappings().all()
    attached = await _files(conn, owner, [r["id"] for r in rows]) if with_files else {}
    return _conversation_text(row, rows, attached.get(conversation_id, []), branch_only)


async def document(conn: AsyncConnection, owner: str, conversation_id: str) -> str | None:
    """A Parley JSON document holding one conversation, every branch and file."""
    text = await conversation_json(conn, owner, conversation_id)
    if text is None:
        return None
    return _opening(now()) + text + "]}"


async def archive(engine: AsyncEngine, owner: str) -> AsyncIterator[str]:
    """All of the owner's conversations (archived ones too) as one Parley JSON document, in
    pieces: a batch of conversations is read, written out and dropped before the next."""
    yield _opening(now())
    first = True
    after: tuple[datetime, str] | None = None
    while True:
        async with engine.connect() as conn:
            batch = await _next_batch(conn, owner, after)
            if not batch:
                break
            after = (batch[-1]["created_at"], batch[-1]["id"])
            ids = [r["id"] for r in batch]
            rows = (
                (
                    await conn.execute(
                        sa.select(messages)
                        .where(messages.c.conversation_id.in_(ids))
                        .order_by(messages.c.conversation_id, messages.c.seq)
                    )
                )
                .mappings()
                .all()
            )
            attached = await _files(conn, owner, [r["id"] for r in rows])
        by_conversation: dict[str, list[sa.RowMapping]] = {i: [] for i in ids}
        for r in rows:
            by_conversation[r["conversation_id"]].append(r)
        pieces = [
            _conversation_text(c, by_conversation[c["id"]], attached.get(c["id"], []), False)
            for c in batch
        ]
        yield ("" if first else ",") + ",".join(pieces)
        first = False
    yield "]}"


def _opening(exported_at: datetime) -> str:
    return json.dumps(header(exported_at), ensure_ascii=False)[:-1] + ',"conversations":['


async def _next_batch(
    conn: AsyncConnection, owner: str, after: tuple[datetime, str] | None
) -> Sequence[sa.RowMapping]:
    c = conversations.c
    query = sa.select(conversations).where(c.owner_id == owner)
    if after is not None:
        query = query.where(
            sa.or_(c.created_at > after[0], sa.and_(c.created_at == after[0], c.id > after[1]))
        )
    query = query.order_by(c.created_at, c.id).limit(_BATCH)
    return (await conn.execute(query)).mappings().all()


async def _files(
    conn: AsyncConnection, owner: str, message_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """The files the messages `message_ids` sent, per conversation, as the archive lists them
    (each once per conversation)."""
    if not message_ids:
        return {}
    query = (
        sa.select(messages.c.conversation_id, files)
        .select_from(
            message_files.join(files, files.c.id == message_files.c.file_id).join(
                messages, messages.c.id == message_files.c.message_id
            )
        )
        .where(message_files.c.message_id.in_(message_ids), files.c.owner_id == owner)
        .order_by(messages.c.conversation_id, files.c.created_at, files.c.id)
    )
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for r in (await conn.execute(query)).mappings():
        found.setdefault(r["conversation_id"], {})[r["id"]] = {
            "id": r["id"],
            "name": r["name"],
            "media_type": r["media_type"],
            "kind": r["kind"],
            "size": int(r["size"]),
            "sha256": r["sha256"],
            "created_at": _time(r["created_at"]),
            "text": r["text"],
            "data": base64.b64encode(bytes(r["data"])).decode(),
        }
    return {k: list(v.values()) for k, v in found.items()}


def _conversation_text(
    row: sa.RowMapping,
    rows: Iterable[sa.RowMapping],
    attached: list[dict[str, Any]],
    branch_only: bool,
) -> str:
    body: dict[str, Any] = {
        "id": row["id"],
        "title": row["title"],
        "title_source": row["title_source"],
        "pinned": bool(row["pinned"]),
        "archived": bool(row["archived"]),
        "model": row["model"],
        "instructions": row["instructions"],
        "tools_off": tools_off_of(row),
        "source": row["import_key"],
        "created_at": _time(row["created_at"]),
        "updated_at": _time(row["updated_at"]),
        "current_leaf_id": row["current_leaf_id"],
        "files": attached,
    }
    listed = [_message_text(r, branch_only) for r in rows]
    opening = json.dumps(body, ensure_ascii=False)[:-1]
    return opening + ',"messages":[' + ",".join(listed) + "]}"


def _message_text(row: sa.RowMapping, snapshot: bool) -> str:
    fields = {name: row[name] for name in _MESSAGE_FIELDS}
    if snapshot and fields["status"] == "generating":
        # A snapshot is what was saved: a reply still being written is shown as it stood.
        fields["status"] = "interrupted"
    fields["created_at"] = _time(row["created_at"])
    fields["updated_at"] = _time(row["updated_at"])
    # The stored Pydantic AI JSON goes out as it is: no parse, no dump.
    opening = json.dumps(fields, ensure_ascii=False)[:-1]
    return opening + ',"model_messages":' + (row["model_messages"].strip() or "[]") + "}"


def _time(value: datetime) -> str:
    return as_utc(value).isoformat()
