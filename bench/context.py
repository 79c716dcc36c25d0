"""A turn's cost as a conversation grows past the context window: `python -m bench.context`
(about a minute; `--quick` for a few seconds).

A conversation of 10, 1,000 and 5,000 earlier messages (prompts of ~250 characters, replies of
~600, real Pydantic AI messages) in a SQLite file; the model is a `FunctionModel` with a
4,000-token window (`PARLEY_CONTEXT_TOKENS`) that answers at once. Each turn is a real
`POST …/messages` through the app, in this process:
- warm: turns one after another in one app, after 3 unmeasured ones;
- cold: the first turn of a new app (new engine, empty caches), as after a restart.
Per turn: CPU of this process, SQL statements, rows and bytes read from the database (counted
at the database driver's cursor), and bytes of messages given to the model.
What the columns mean: docs/benchmarks.md, "Context window".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlalchemy import event
from tests.support.client import send
from tests.support.databases import engine_on, sqlite_url
from tests.support.seed import seed_conversation

from parley.app import create_app
from parley.db.migrate import upgrade
from parley.settings import Settings

from .table import table

WINDOW = 4_000
REPLY = ("A considered answer, with a list:\n\n- one point\n- another point\n\n" * 10)[:600]
SIZES = [10, 1_000, 5_000]
_WORDS = (
    "the",
    "model",
    "reads",
    "what",
    "fits",
    "and",
    "the",
    "rest",
    "stays",
    "stored",
    "for",
    "later",
)


@dataclass
class Counts:
    statements: int = 0
    rows: int = 0
    bytes: int = 0


@dataclass
class Meter:
    """What the current turn read and sent; reset before each."""

    reads: Counts = field(default_factory=Counts)
    sent: int = 0


METER = Meter()


def _size(row: Any) -> int:
    return sum(len(v) if isinstance(v, str | bytes) else 8 for v in row)


@contextmanager
def counting_reads() -> Iterator[None]:
    """Count the rows and bytes every aiosqlite cursor hands back (what the database read
    out for Parley), whatever query asked."""
    originals = {name: getattr(aiosqlite.Cursor, name) for name in ("fetchall", "fetchmany")}

    async def fetchall(self: aiosqlite.Cursor) -> Any:
        rows = await originals["fetchall"](self)
        METER.reads.rows += len(rows)
        METER.reads.bytes += sum(_size(r) for r in rows)
        return rows

    async def fetchmany(self: aiosqlite.Cursor, size: int | None = None) -> Any:
        rows = await originals["fetchmany"](self, size)
        METER.reads.rows += len(rows)
        METER.reads.bytes += sum(_size(r) for r in rows)
        return rows

    aiosqlite.Cursor.fetchall = fetchall  # type: ignore[method-assign]
    aiosqlite.Cursor.fetchmany = fetchmany  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(aiosqlite.Cursor, name, original)


async def _answer(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
    METER.sent = len(ModelMessagesTypeAdapter.dump_json(messages))
    yield REPLY


def _app(url: str) -> TestClient:
    settings = Settings(
        database_url=url, context_tokens=WINDOW, max_output_tokens=500, generate_titles=False
    )
    app = create_app(settings, agent=Agent(FunctionModel(stream_function=_answer)))
    client = TestClient(app, base_url="http://localhost")
    client.__enter__()
    engine = app.state.services.store.engine

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        METER.reads.statements += 1

    return client


def _text(i: int) -> str:
    words = _WORDS
    length = 250 if i % 2 == 0 else 600
    out = " ".join(words[(i + k) % len(words)] for k in range(length // 4))
    return out[:length]


@dataclass
class Turn:
    cpu: float
    statements: int
    rows: int
    read: int
    sent: int


def _turn(client: TestClient, cid: str, prompt: str) -> Turn:
    METER.reads, METER.sent = Counts(), 0
    started = time.process_time()
    frames = send(client, cid, prompt)
    cpu = time.process_time() - started
    assert frames[-1].data["status"] == "complete", frames[-1].data
    r = METER.reads
    return Turn(cpu, r.statements, r.rows, r.bytes, METER.sent)


def _prepare(directory: Path, size: int) -> tuple[str, str]:
    url = sqlite_url(directory / f"context-{size}.db")

    async def migrate() -> None:
        async with engine_on(url) as engine:
            await upgrade(engine)

    asyncio.run(migrate())
    cid, _ = seed_conversation(url, size, text=_text, model_messages=True)

    async def settle() -> None:
        # The search index as a database in use has it: merged, not the ten segments of the
        # batches that wrote the conversation (merging those would be charged to the turns).
        async with engine_on(url) as engine, engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO message_search(message_search) VALUES ('optimize')"
            )

    asyncio.run(settle())
    return url, cid


def measure(directory: Path, size: int, warm_turns: int, cold_turns: int) -> dict[str, list[Turn]]:
    url, cid = _prepare(directory, size)
    found: dict[str, list[Turn]] = {"warm": [], "cold": []}
    for _ in range(cold_turns):
        client = _app(url)
        try:
            found["cold"].append(_turn(client, cid, _text(0)))
        finally:
            client.__exit__(None, None, None)
    client = _app(url)
    try:
        for i in range(3 + warm_turns):
            turn = _turn(client, cid, _text(0))
            if i >= 3:
                found["warm"].append(turn)
    finally:
        client.__exit__(None, None, None)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.context", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer turns")
    args = parser.parse_args(argv)
    warm, cold = (3, 2) if args.quick else (20, 8)
    rows: list[list[str]] = []
    print(
        f"Parley context-window benchmark: a {WINDOW:,}-token window, SQLite, "
        f"{warm} warm turns and {cold} cold ones per size (medians)",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as name, counting_reads():
        for size in SIZES:
            found = measure(Path(name), size, warm, cold)
            for mode in ("warm", "cold"):
                turns = found[mode]
                rows.append(
                    [
                        f"{size:,}",
                        mode,
                        f"{statistics.median(t.cpu for t in turns) * 1000:.1f}",
                        f"{statistics.median(t.statements for t in turns):.0f}",
                        f"{statistics.median(t.rows for t in turns):,.0f}",
                        f"{statistics.median(t.read for t in turns) / 1024:,.1f}",
                        f"{statistics.median(t.sent for t in turns) / 1024:,.1f}",
                    ]
                )
    header = ["earlier msgs", "turn", "CPU ms", "statements", "rows read", "KB read", "KB sent"]
    print("\n".join(table(header, rows)))
    print(
        "  CPU ms      this process (the app and the test client), per turn\n"
        "  rows read   rows the database handed back (every query of the turn)\n"
        "  KB sent     the Pydantic AI messages given to the model (JSON)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
