"""The async engine, with the SQLite settings Parley relies on, and write transactions.

Every write goes through `write(engine)`. On SQLite (one process per file) it takes the
process's one write lock first: SQLite runs one writer at a time anyway, and its own busy
handler retries with growing sleeps, so under a burst some writers wait many times longer than
others. An asyncio lock queues them first come, first served instead, and makes a check and
the write that depends on it (one reply per conversation, replies per user) atomic. On
PostgreSQL, rules that must hold across processes take `lock_key` inside the transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

_WRITE_LOCKS: WeakKeyDictionary[Engine, asyncio.Lock] = WeakKeyDictionary()


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 20, pool_timeout: float = 30.0
) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (listing, reattaching) proceed while a reply is being saved.
    cursor.execute("PRAGMA journal_mode=WAL")
    # Off by default in SQLite; deleting a conversation relies on ON DELETE CASCADE.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@asynccontextmanager
async def write(engine: AsyncEngine, *, queue: bool = True) -> AsyncIterator[AsyncConnection]:
    """A write transaction: committed at the end of the block, rolled back on an exception.

    `queue=False` is for a write that decides nothing (a checkpoint of a reply being
    generated): it skips the queue and lets SQLite order it, so the frequent background
    writes do not lengthen the queue that a new prompt's first write waits in.
    """
    if engine.dialect.name != "sqlite" or not queue:
        async with engine.begin() as conn:
            yield conn
        return
    lock = _WRITE_LOCKS.get(engine.sync_engine)
    if lock is None:
        lock = _WRITE_LOCKS[engine.sync_engine] = asyncio.Lock()
    async with lock, engine.begin() as conn:
        yield conn


async def lock_key(conn: AsyncConnection, key: str) -> None:
    """Serialize the transactions that name `key` until they end, across processes.

    PostgreSQL: a transaction-scoped advisory lock on the key's hash. SQLite: nothing to do,
    `write` already runs one write transaction at a time.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0)))
        )
