"""Database rows as the models the API shows, and the owner scoping every query shares."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db.clock import as_utc
from ..db.tables import conversations, runs
from .models import Conversation, Feedback, Message


def owned(owner: str, conversation_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(conversations.c.id == conversation_id, conversations.c.owner_id == owner)


def active_run() -> sa.Label[Any]:
    """The id of the reply generating in a conversation, in any process (a column)."""
    return (
        sa.select(runs.c.id)
        .where(runs.c.conversation_id == conversations.c.id, runs.c.status == "running")
        .limit(1)
        .scalar_subquery()
        .label("active_run_id")
    )


async def conversation_row(
    conn: AsyncConnection, owner: str, conversation_id: str, *, for_update: bool = False
) -> sa.RowMapping | None:
    query = sa.select(conversations).where(owned(owner, conversation_id))
    # SQLite has no row locks (its writes are serial); a locked read needs no run column.
    query = query.with_for_update() if for_update else query.add_columns(active_run())
    return (await conn.execute(query)).mappings().first()


def conversation_of(row: sa.RowMapping | dict[str, Any]) -> Conversation:
    return Conversation(
        id=row["id"],
        title=row["title"],
        title_source=row.get("title_source", "prompt"),
        pinned=bool(row.get("pinned", False)),
        archived=bool(row.get("archived", False)),
        model=row.get("model"),
        instructions=row.get("instructions"),
        tools_off=tools_off_of(row),
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        active_run_id=row.get("active_run_id"),
    )


def tools_off_of(row: sa.RowMapping | dict[str, Any]) -> list[str]:
    """The MCP servers a conversation switched off (a JSON list; NULL: none)."""
    value = row.get("tools_off")
    return [str(name) for name in value] if isinstance(value, list) else []


def message_of(row: sa.RowMapping | dict[str, Any], siblings: list[str] | None = None) -> Message:
    rating = row.get("feedback_rating")
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
            "siblings": siblings if siblings is not None else [row["id"]],
            "feedback": (
                Feedback(rating=rating, comment=row.get("feedback_comment")) if rating else None
            ),
        }
    )
