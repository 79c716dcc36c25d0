"""What a burst of failed logins does to everyone else: `python -m bench.logins`.

A real `parley serve` in accounts mode, with production-cost argon2 (the default settings),
gets 30 wrong logins for one account at once, while a prober fetches a small static file every
20 ms. Reported per round: how many passwords were checked (401s; the rest are 429), the burst's
wall time, and the prober's slowest and median answer: how long the event loop was stalled for
every other request and stream. Each round uses a fresh server (the limits are per 15 minutes).

Set PARLEY_SOURCE to another checkout's `src/` to measure that code instead (before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from tests.support.processes import ROOT, run_parley, servers

from .table import table

ATTEMPTS = 30
PROBE_EVERY = 0.02
# Production cost: the point is what a real hash costs the event loop.
PRODUCTION_HASHING = {"PARLEY_PASSWORD_TIME_COST": "3", "PARLEY_PASSWORD_MEMORY_KIB": "65536"}


async def _burst(url: str) -> tuple[int, int, float, float, float]:
    latencies: list[float] = []
    done = asyncio.Event()

    async def probe(client: httpx.AsyncClient) -> None:
        while not done.is_set():
            start = time.perf_counter()
            await client.get("/static/favicon.svg")
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(PROBE_EVERY)

    async with httpx.AsyncClient(base_url=url, timeout=120, trust_env=False) as client:
        prober = asyncio.create_task(probe(client))
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        answers = await asyncio.gather(
            *(
                client.post("/api/auth/login", json={"name": "alice", "password": f"wrong {i}"})
                for i in range(ATTEMPTS)
            )
        )
        wall = time.perf_counter() - start
        done.set()
        await prober
    checked = sum(a.status_code == 401 for a in answers)
    refused = sum(a.status_code == 429 for a in answers)
    return checked, refused, wall, max(latencies), statistics.median(latencies)


def _add_user(database_url: str, home: Path) -> None:
    # At production cost too: a wrong password is checked at the cost its hash was made with.
    add = ["users", "--database-url", database_url, "add", "alice", "--password-stdin"]
    run_parley(home, *add, stdin="the right password\n", env=PRODUCTION_HASHING)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.logins", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            database = f"sqlite+aiosqlite:///{tmp / 'logins.db'}"
            _add_user(database, tmp / "home")
            with servers(tmp, database) as start:
                server = start(env={"PARLEY_AUTH": "accounts", **PRODUCTION_HASHING})
                checked, refused, wall, worst, median = asyncio.run(_burst(server.url))
        rows.append(
            [
                str(round_ + 1),
                str(checked),
                str(refused),
                f"{wall:.2f}",
                f"{worst * 1000:.0f}",
                f"{median * 1000:.1f}",
            ]
        )
    source = os.environ.get("PARLEY_SOURCE") or str(ROOT / "src")
    print(f"parley from {source}; {ATTEMPTS} wrong logins at once, limit 5 per account")
    header = ["round", "checked", "429", "burst s", "stall max ms", "probe p50 ms"]
    print("\n".join(table(header, rows)))


if __name__ == "__main__":
    main()
