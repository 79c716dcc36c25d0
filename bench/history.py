"""Loading a long conversation: `python -m bench.history`.

A real `parley serve` on a SQLite file holds one conversation of 1,000 messages (500 turns of
a ~600-character markdown reply, from `tests.support.paced_agents:quick_agent`). The page
loads it as the API serves it, 500 messages a page: reported are the bytes of the two pages
and the median wall time of fetching both, over 20 fetches after a warm-up.

Set PARLEY_SOURCE to another checkout's `src/` to measure that code instead (before/after).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from tests.support.client import new_conversation, send
from tests.support.processes import ROOT, servers

from .table import table

TURNS = 500
FETCHES = 20


def _fetch_all(client: httpx.Client, cid: str) -> int:
    size = 0
    before: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 500}
        if before:
            params["before"] = before
        page = client.get(f"/api/conversations/{cid}/messages", params=params)
        page.raise_for_status()
        size += len(page.content)
        before = page.json()["next_cursor"]
        if before is None:
            return size


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        database = f"sqlite+aiosqlite:///{tmp / 'history.db'}"
        with servers(tmp, database) as start:
            server = start("--agent", "tests.support.paced_agents:quick_agent")
            with server.client() as client:
                cid = new_conversation(client)
                for i in range(TURNS):
                    send(client, cid, f"Question {i}: when is a retry worth it?")
                size = _fetch_all(client, cid)
                times = []
                for _ in range(FETCHES):
                    start_time = time.perf_counter()
                    _fetch_all(client, cid)
                    times.append(time.perf_counter() - start_time)
    source = os.environ.get("PARLEY_SOURCE") or str(ROOT / "src")
    print(f"parley from {source}; one conversation of {2 * TURNS} messages, SQLite")
    rows = [
        [
            f"{2 * TURNS} messages",
            f"{size:,}",
            f"{statistics.median(times) * 1000:.0f}",
            f"{min(times) * 1000:.0f}",
        ]
    ]
    print("\n".join(table(["GET messages", "bytes", "p50 ms", "min ms"], rows)))


if __name__ == "__main__":
    main()
