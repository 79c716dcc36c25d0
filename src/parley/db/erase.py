"""Deleting conversations, and everything an owner has, in bulk and in one transaction.

Messages form a chain through `parent_id` with ON DELETE CASCADE. Deleting the conversation
and letting the database cascade walks that chain one level per message: SQLite gives up past
1,000 levels ("too many levels of trigger recursion") and PostgreSQL looks up each message's
children one by one. So the parent links are cut first, and every table is then emptied of the
conversations' rows by one statement each: linear in the number of rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import (
    conversations,
    feedback,
    files,
    message_files,
    messages,
    run_events,
    runs,
    usage_ledger,
)


async def delete_conversations(conn: AsyncConnection, which: sa.ColumnElement[bool]) -> int:
    """Delete the conversations matching `which`, with their messages, runs and run events.

    Returns how many conversations were deleted. Call inside a write transaction.
    """
    ids = sa.select(conversations.c.id).where(which).scalar_subquery()
    run_ids = sa.select(runs.c.id).where(runs.c.conversation_id.in_(ids)).scalar_subquery()
    await conn.execute(run_events.delete().where(run_events.c.run_id.in_(run_ids)))
    await conn.execute(runs.delete().where(runs.c.conversation_id.in_(ids)))
    await conn.execute(_unused_files(ids))
    await conn.execute(feedback.delete().where(feedback.c.conversation_id.in_(ids)))
    await conn.execute(
        messages.update().where(messages.c.conversation_id.in_(ids)).values(parent_id=None)
    )
    await conn.execute(messages.delete().where(messages.c.conversation_id.in_(ids)))
    result = await conn.execute(conversations.delete().where(which))
    return result.rowcount or 0


async def erase_owner(conn: AsyncConnection, owner_id: str) -> int:
    """Delete every conversation of `owner_id`, and what they used (the rest of a user goes
    with the user row)."""
    await conn.execute(usage_ledger.delete().where(usage_ledger.c.owner_id == owner_id))
    deleted = await delete_conversations(conn, conversations.c.owner_id == owner_id)
    # Uploads never sent too.
    await conn.execute(files.delete().where(files.c.owner_id == owner_id))
    return deleted


def _unused_files(ids: sa.ScalarSelect[str]) -> sa.Delete:
    """The files sent by messages of the conversations `ids` that no message of another
    conversation sent (a fork shares its files), in one statement. Uploads not sent yet are
    left alone: they may be in a composer. Their links go with them (ON DELETE CASCADE)."""
    gone = sa.select(messages.c.id).where(messages.c.conversation_id.in_(ids))
    used_here = sa.select(message_files.c.file_id).where(message_files.c.message_id.in_(gone))
    other = message_files.alias("other")
    used_elsewhere = sa.exists().where(
        other.c.file_id == files.c.id,
        other.c.message_id == messages.c.id,
        messages.c.conversation_id.not_in(ids),
    )
    return files.delete().where(files.c.id.in_(used_here), ~used_elsewhere)
