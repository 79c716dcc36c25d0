"""The databases the tests run against: a SQLite file, and a fresh PostgreSQL database per test."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.db.engine import create_engine

T = TypeVar("T")

BACKENDS = ["sqlite", "postgresql"]
POSTGRES_ENV = "PARLEY_TEST_POSTGRES_URL"
NO_POSTGRES = (
    f"PostgreSQL tests need {POSTGRES_ENV} (CI sets it): a SQLAlchemy URL whose user may "
    "create databases, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@asynccontextmanager
async def engine_on(url: str) -> AsyncIterator[AsyncEngine]:
    """Parley's engine on `url`, disposed however the block ends.

    A connection left open when a test fails would warn (an error here) in a later test.
    """
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


def postgres_server() -> str:
    """The URL of the PostgreSQL server to test against; skips the test if none is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(NO_POSTGRES)
    return url


@contextmanager
def postgres_database(server_url: str, prefix: str = "parley_test") -> Iterator[str]:
    """A new, empty database on the server of `server_url` (`prefix`_<hex>), dropped after;
    yields its URL.

    The database named in `server_url` is only where CREATE and DROP DATABASE are run from.
    """
    server = make_url(server_url)
    name = f"{prefix}_{secrets.token_hex(8)}"
    _run_on(server, f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: a server process the test killed may still hold a connection for a moment.
        _run_on(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(coroutine) in a thread of its own: Playwright's sync API keeps an event loop
    running on the main thread in browser tests, where asyncio.run would refuse to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _run_on(server: URL, statement: str) -> None:
    dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    run_in_thread(run())
