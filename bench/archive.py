"""Export and import at scale: `python -m bench.archive` (about two minutes on 2 cores).

1,000 conversations of 50 messages (25 turns: a prompt, and a reply holding markdown and a
Pydantic AI `ModelResponse` with usage) are written straight into a SQLite file. Then, timed:

- exporting them all (`chat.archive.export.archive`, what `GET /api/export` and `parley export`
  stream) into a file;
- importing that file into an empty database (`chat.archive.reader.import_file`, what
  `POST /api/import` and `parley import` run): every conversation checked, its HTML sanitized
  again, its Pydantic AI messages validated, and written in its own transaction;
- the peak memory (the process's maximum resident set, from the kernel) of `parley import` run
  as its own process on a 10 MB and a 100 MB Parley JSON file of such conversations: flat
  memory means the file is read as a stream.

`--conversations N` scales the first two; `--quick` is a check that it runs (20 conversations,
files of 1 and 2 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic_ai.messages import (
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.usage import RequestUsage
from tests.support.databases import sqlite_url

from parley.chat.archive.export import archive
from parley.chat.archive.reader import import_file
from parley.db.clock import now
from parley.db.engine import create_engine
from parley.db.ids import new_id
from parley.db.migrate import upgrade
from parley.db.tables import conversations, messages
from parley.render import render_markdown

from .table import table

TURNS = 25
REPLY = (
    "Here is **what you asked** for, turn {turn}:\n\n"
    "- a list item with `code`\n- and [a link](https://example.com)\n\n"
    "```python\nprint({turn})\n```\n"
)


def _turn_rows(conversation_id: str, turn: int, parent: str | None, start: Any) -> list[Any]:
    prompt = f"Question {turn}: how does part {turn} of this work?"
    reply = REPLY.format(turn=turn)
    at = start + timedelta(seconds=2 * turn)
    request = ModelRequest(parts=[UserPromptPart(content=prompt, timestamp=at)])
    response = ModelResponse(
        parts=[TextPart(content=reply)],
        model_name="bench",
        timestamp=at,
        usage=RequestUsage(input_tokens=40 + turn, output_tokens=60),
    )
    user_id, reply_id = new_id(), new_id()
    common = {"conversation_id": conversation_id, "error": None, "run_id": None}
    return [
        common
        | {
            "id": user_id,
            "parent_id": parent,
            "seq": 2 * turn + 1,
            "role": "user",
            "text": prompt,
            "parts": [{"type": "text", "text": prompt, "html": None}],
            "model_messages": ModelMessagesTypeAdapter.dump_json([request]).decode(),
            "status": "complete",
            "model": None,
            "usage": None,
            "created_at": at,
            "updated_at": at,
        },
        common
        | {
            "id": reply_id,
            "parent_id": user_id,
            "seq": 2 * turn + 2,
            "role": "assistant",
            "text": reply,
            "parts": [{"type": "text", "text": reply, "html": render_markdown(reply)}],
            "model_messages": ModelMessagesTypeAdapter.dump_json([response]).decode(),
            "status": "complete",
            "model": "bench",
            "usage": {"input_tokens": 40 + turn, "output_tokens": 60, "cost": None},
            "created_at": at,
            "updated_at": at,
        },
    ]


async def seed(url: str, count: int, owner: str = "local") -> None:
    engine = create_engine(url)
    await upgrade(engine)
    start = now() - timedelta(days=30)
    try:
        for first in range(0, count, 50):
            conv_rows, message_rows = [], []
            for _ in range(first, min(count, first + 50)):
                cid = new_id()
                rows: list[Any] = []
                parent = None
                for turn in range(TURNS):
                    rows += _turn_rows(cid, turn, parent, start)
                    parent = rows[-1]["id"]
                conv_rows.append(
                    {
                        "id": cid,
                        "owner_id": owner,
                        "title": f"Conversation {cid[:6]}",
                        "title_source": "model",
                        "current_leaf_id": parent,
                        "pinned": False,
                        "archived": False,
                        "created_at": start,
                        "updated_at": start,
                    }
                )
                message_rows += rows
            async with engine.begin() as conn:
                await conn.execute(conversations.insert(), conv_rows)
                await conn.execute(messages.insert(), message_rows)
    finally:
        await engine.dispose()


async def export_to(url: str, path: Path) -> float:
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        with path.open("w", encoding="utf-8") as out:
            async for piece in archive(engine, "local"):
                out.write(piece)
        return time.perf_counter() - started
    finally:
        await engine.dispose()


async def import_from(url: str, path: Path) -> tuple[float, int]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        started = time.perf_counter()
        with path.open("rb") as f:
            outcome = await import_file(engine, "local", f)
        return time.perf_counter() - started, outcome.imported
    finally:
        await engine.dispose()


def sized(source: Path, target: Path, size: int) -> int:
    """A Parley JSON file of about `size` bytes: the conversations of `source`, repeated under
    new ids as often as needed. Its number of conversations."""
    conversations_ = json.loads(source.read_text())["conversations"]
    written, count = 0, 0
    with target.open("w", encoding="utf-8") as out:
        out.write('{"format": "parley", "version": 1, "conversations": [')
        while written < size:
            text = json.dumps(conversations_[count % len(conversations_)])
            old = json.loads(text)
            for m in [old["id"], *(m["id"] for m in old["messages"])]:
                text = text.replace(m, new_id())
            out.write(("," if count else "") + text)
            written += len(text) + 1
            count += 1
        out.write("]}")
    return count


def peak_import(path: Path, tmp: Path) -> tuple[float, int]:
    """`parley import` as its own process into an empty SQLite file: seconds and peak RSS
    in bytes (a wrapper process reads its only child's maximum resident set)."""
    database = tmp / f"peak-{path.stem}.db"
    database.unlink(missing_ok=True)
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    parley = str(Path(sys.executable).with_name("parley"))
    out = subprocess.run(
        [sys.executable, "-c", wrapper, parley, "import", str(path),
         "--database-url", sqlite_url(database)],
        check=True, capture_output=True, text=True, env=os.environ | {"PARLEY_AUTH": "local"},
    ).stdout.split()  # fmt: skip
    return float(out[0]), int(out[1]) * 1024


def _speed(label: str, seconds: float, count: int, size: int) -> list[str]:
    return [label, f"{seconds:.1f}", f"{count / seconds:,.0f}", f"{size / 1e6 / seconds:.1f}"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument(
        "--quick", action="store_true", help="20 conversations; files of 1 and 2 MB (a check)"
    )
    args = parser.parse_args(argv)
    sizes = (1, 2) if args.quick else (10, 100)
    if args.quick:
        args.conversations = 20
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        source, target = sqlite_url(tmp / "source.db"), sqlite_url(tmp / "target.db")
        asyncio.run(seed(source, args.conversations))
        exported = tmp / "export.json"
        export_seconds = asyncio.run(export_to(source, exported))
        import_seconds, imported = asyncio.run(import_from(target, exported))
        assert imported == args.conversations, imported
        messages_ = args.conversations * TURNS * 2
        size = exported.stat().st_size
        print(
            f"{args.conversations:,} conversations, {messages_:,} messages, {size / 1e6:.1f} MB\n"
        )
        rows = [
            _speed("export (stream to a file)", export_seconds, messages_, size),
            _speed("import (into an empty database)", import_seconds, messages_, size),
        ]
        print("\n".join(table(["", "seconds", "messages/s", "MB/s"], rows)))

        peaks = []
        for megabytes in sizes:
            label = f"{megabytes} MB"
            path = tmp / f"import-{megabytes}mb.json"
            count = sized(exported, path, megabytes * 1_000_000)
            seconds, peak = peak_import(path, tmp)
            peaks.append([label, f"{count:,}", f"{seconds:.1f}", f"{peak / 1e6:.0f}"])
        print()
        print("\n".join(table(["parley import", "conversations", "seconds", "peak RSS MB"], peaks)))


if __name__ == "__main__":
    main()
