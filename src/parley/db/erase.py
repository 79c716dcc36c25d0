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

from .tables import conversations, messages, run_events, runs, usage_ledger


async def delete_conversations(conn: AsyncConnection, which: sa.ColumnElement[bool]) -> int:
    """Delete the conversations matching `which`, with their messages, runs and run events.

    Returns how many conversations were deleted. Call inside a write transaction.
    """
    ids = sa.select(conversations.c.id).where(which).scalar_subquery()
    run_ids = sa.select(runs.c.id).where(runs.c.conversation_id.in_(ids)).scalar_subquery()
    await conn.execute(run_events.delete().where(run_events.c.run_id.in_(run_ids)))
    await conn.execute(runs.delete().where(runs.c.conversation_id.in_(ids)))
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
    return await delete_conversations(conn, conversations.c.owner_id == owner_id)
