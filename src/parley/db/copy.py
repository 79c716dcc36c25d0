"""`parley db copy SOURCE TARGET`: move a database (SQLite to PostgreSQL, say) without loss.

Both ends are migrated to the same head first, so the tables match; rows are copied table by
table in an order that satisfies every foreign key (a message's parent before the message),
in batches, inside one transaction on the target, which must be empty.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .engine import create_engine
from .migrate import upgrade
from .tables import (
    api_tokens,
    conversations,
    feedback,
    files,
    message_files,
    messages,
    run_events,
    runs,
    sessions,
    shares,
    usage_ledger,
    users,
)

_BATCH = 500
# Parents first. Messages are ordered so that a parent (lower seq) comes before its children.
_TABLES: list[tuple[sa.Table, list[sa.ColumnElement[Any]]]] = [
    (users, [users.c.id]),
    (sessions, [sessions.c.token_hash]),
    (api_tokens, [api_tokens.c.id]),
    (conversations, [conversations.c.id]),
    (messages, [messages.c.conversation_id, messages.c.seq]),
    (runs, [runs.c.id]),
    (run_events, [run_events.c.run_id, run_events.c.seq]),
    (files, [files.c.id]),
    (message_files, [message_files.c.message_id, message_files.c.file_id]),
    (usage_ledger, [usage_ledger.c.owner_id, usage_ledger.c.day, usage_ledger.c.conversation_id]),
    (shares, [shares.c.id]),
    (feedback, [feedback.c.message_id]),
]


class TargetNotEmpty(Exception):
    pass


async def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every row; returns the number of rows per table."""
    source = create_engine(source_url)
    target = create_engine(target_url)
    try:
        await upgrade(source)
        await upgrade(target)
        counts: dict[str, int] = {}
        async with source.connect() as reader, target.begin() as writer:
            for table, _ in _TABLES:
                if await writer.scalar(sa.select(sa.func.count()).select_from(table)):
                    raise TargetNotEmpty(table.name)
            for table, order in _TABLES:
                counts[table.name] = await _copy_table(reader, writer, table, order)
        return counts
    finally:
        await source.dispose()
        await target.dispose()


async def _copy_table(
    reader: AsyncConnection,
    writer: AsyncConnection,
    table: sa.Table,
    order: list[sa.ColumnElement[Any]],
) -> int:
    times = [c.name for c in table.columns if isinstance(c.type, sa.DateTime)]
    copied = 0
    result = await reader.stream(sa.select(table).order_by(*order))
    async for batch in result.mappings().partitions(_BATCH):
        rows = [_utc_times(dict(row), times) for row in batch]
        await writer.execute(table.insert(), rows)
        copied += len(rows)
    return copied


def _utc_times(row: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    # SQLite returns naive datetimes; everything Parley writes is UTC, so say so explicitly
    # rather than leave it to the target server's time zone.
    for name in columns:
        value = row[name]
        if isinstance(value, datetime) and value.tzinfo is None:
            row[name] = value.replace(tzinfo=UTC)
    return row
