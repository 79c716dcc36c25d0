"""Parley under concurrent load: the same virtual users against one `parley serve` on SQLite,
one on PostgreSQL, and two sharing one PostgreSQL database; throughput and latency side by side.

Run from the repository root: `python -m bench.scale` (about three minutes on 2 cores) or
`--quick` (about 35 s).
See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import re
import shlex
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Literal

import asyncpg
import httpx
import pydantic_ai.models
from sqlalchemy.engine import make_url
from tests.support import paced_agents as agents
from tests.support.client import aiter_frames
from tests.support.databases import postgres_database, sqlite_url
from tests.support.processes import Server, run_parley, servers, side_by_side

from .table import table

# The benchmark must never reach a real provider.
pydantic_ai.models.ALLOW_MODEL_REQUESTS = False

AGENT = "tests.support.paced_agents:paced_agent"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
START_TIMEOUT = 60.0
# A turn that has not finished after this long counts as an error; a load that has not
# finished after LOAD_BUDGET is cut short, and its missing turns count as errors.
TURN_TIMEOUT = httpx.Timeout(60.0)
LOAD_BUDGET = 120.0
# What the load should see: 201 creating a conversation, 200 sending and reading.
_EXPECTED_STATUSES = frozenset({200, 201})

Backend = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class Case:
    label: str
    backend: Backend
    processes: int


CASES = [
    Case("sqlite x1", "sqlite", 1),
    Case("postgres x1", "postgresql", 1),
    Case("postgres x2", "postgresql", 2),
]


@dataclass(frozen=True)
class Load:
    users: int
    turns: int  # per user, one after another


FULL = [Load(8, 10), Load(32, 10)]
QUICK = [Load(4, 3), Load(16, 3)]


@dataclass
class Turn:
    total: float  # seconds from sending the prompt to the `done` event (or to the failure)
    ttft: float | None = None  # seconds to the first `text` event
    error: str | None = None


@dataclass
class Result:
    case: Case
    load: Load
    turns: list[Turn] = field(default_factory=list)
    wall: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    server_cpu: float | None = None  # seconds, all processes of the case
    client_cpu: float = 0.0  # seconds, the load generator (this process)

    @property
    def ok(self) -> list[Turn]:
        return [t for t in self.turns if t.error is None]


# -- Servers ---------------------------------------------------------------------------------

# The whole load is the one local user; the default limit (4) would answer 429.
_SERVER_ENV = {"PARLEY_MAX_RUNS_PER_USER": "1000"}


@contextmanager
def _servers(count: int, database_url: str, directory: Path) -> Iterator[list[Server]]:
    """`count` `parley serve` processes on one database; all of them stopped afterwards."""
    # Migrated once, before the servers start: processes sharing a database must not race on it.
    run_parley(directory / "home", "migrate", "--database-url", database_url, env=_SERVER_ENV)
    with servers(directory, database_url) as start:
        yield side_by_side(start, count, "--agent", AGENT, env=_SERVER_ENV, timeout=START_TIMEOUT)


_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
_STARTED = re.compile(r"Parley \S+ on http://")
_ID = re.compile(r"\b[A-Za-z0-9_-]{16,}\b")


@dataclass
class LogFindings:
    """What in the server logs is not a clean run, grouped: unexpected statuses, warnings,
    errors and the exception of every traceback; for each traceback kind, the first one,
    shortened to the log line before it, Parley's own frames and the exception."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def read(self, text: str) -> None:
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            access = _ACCESS.search(line)
            if line.startswith("Traceback"):
                end = _traceback_end(lines, i)
                kind = self._add("traceback: " + lines[end].strip())
                if kind not in self.examples:
                    self.examples[kind] = _shorten(lines[max(i - 1, 0) : end + 1])
                i = end
            elif access:
                if int(access["status"]) not in _EXPECTED_STATUSES:
                    self._add(f"{access['status']} {access['method']} {access['path']}")
            elif not (line.startswith("INFO:") or _STARTED.match(line) or not line.strip()):
                # Anything else is worth a look: uvicorn's warnings and errors, and Parley's
                # own log lines, which go out without a level prefix.
                self._add(line.strip())
            i += 1

    def _add(self, problem: str) -> str:
        # Ids replaced, so that the same problem on different runs groups into one line.
        key = _ID.sub("{id}", problem)
        self.counts[key] += 1
        return key


_CHAINED = ("The above exception", "During handling")


def _traceback_end(lines: list[str], start: int) -> int:
    """The index of the exception line that ends the traceback at `start`, chains included."""
    j = start + 1
    while j < len(lines):
        line = lines[j]
        if line and not line[0].isspace() and not line.startswith(("Traceback", *_CHAINED)):
            following = next((x for x in lines[j + 1 :] if x.strip()), "")
            if not following.startswith(_CHAINED):
                return j
        j += 1
    return len(lines) - 1


def _shorten(traceback: list[str]) -> list[str]:
    """The line logged before the traceback, the frames in Parley's code, the exception."""
    kept = [traceback[0]]
    for i, line in enumerate(traceback[1:-1], start=1):
        if line.lstrip().startswith("File ") and "/parley/" in line and "site-packages" not in line:
            kept += [line.strip(), traceback[i + 1].strip()]
        elif line.startswith(_CHAINED):
            raised = next(x for x in reversed(traceback[:i]) if x.strip())
            kept += [raised.strip(), line.strip()]
    return [*kept, traceback[-1]]


# -- Databases -------------------------------------------------------------------------------


@contextmanager
def _database(case: Case, maintenance: str, directory: Path) -> Iterator[str]:
    """A fresh, empty database for the case; its SQLAlchemy URL. Dropped afterwards."""
    if case.backend == "sqlite":
        yield sqlite_url(directory / "parley.db")
        return
    server = make_url(maintenance).set(drivername="postgresql+asyncpg")
    with postgres_database(server.render_as_string(hide_password=False), "parley_bench") as url:
        yield url


async def _postgres_version(maintenance: str) -> str:
    connection = await asyncpg.connect(maintenance, timeout=10)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


# -- Load ------------------------------------------------------------------------------------


def _prompt(user: int, turn: int) -> str:
    return f"User {user}, question {turn}: when is retrying a failed request a good idea?"


async def _create(client: httpx.AsyncClient, url: str, title: str) -> str:
    response = await client.post(f"{url}/api/conversations", json={"title": title})
    if response.status_code != 201:
        raise RuntimeError(f"creating a conversation: {response.status_code} {response.text}")
    conversation_id: str = response.json()["id"]
    return conversation_id


async def _turn(
    client: httpx.AsyncClient, url: str, conversation_id: str, prompt: str, number: int
) -> tuple[Turn, bool]:
    """One send, read to `done`; also whether the server took the prompt (answered 200)."""
    started = time.perf_counter()
    turn = Turn(total=0.0)
    accepted = False
    text: list[str] = []
    status: str | None = None
    try:
        async with client.stream(
            "POST", f"{url}/api/conversations/{conversation_id}/messages", json={"prompt": prompt}
        ) as response:
            if response.status_code != 200:
                await response.aread()
                turn.total = time.perf_counter() - started
                turn.error = f"HTTP {response.status_code}: {_detail(response)}"
                return turn, False
            accepted = True
            async for frame in aiter_frames(response.aiter_lines()):
                if frame.event == "text":
                    if turn.ttft is None:
                        turn.ttft = time.perf_counter() - started
                    text.append(frame.data["d"])
                elif frame.event == "done":
                    turn.total = time.perf_counter() - started
                    status = frame.data["status"]
    except httpx.HTTPError as exc:
        turn.total = time.perf_counter() - started
        turn.error = f"{type(exc).__name__} {exc}".strip()
        return turn, accepted
    if status is None:
        turn.total = time.perf_counter() - started
        turn.error = "stream ended without done"
    elif status != "complete":
        turn.error = f"done with status {status}"
    elif "".join(text) != agents.reply_text(number):
        # The reply names how many prompts the model was sent: anything else means the
        # history it got was not the conversation's (stale or lost across processes).
        got = re.search(r"answer (\d+) of", "".join(text))
        turn.error = f"wrong history: answer {got[1] if got else '?'} for prompt {number}"
    return turn, True


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail"))
    except ValueError:
        return response.text[:200]


async def _user(
    client: httpx.AsyncClient,
    urls: list[str],
    user: int,
    conversation_id: str,
    turns: int,
    result: Result,
    saved: dict[str, int],
) -> None:
    saved[conversation_id] = 0
    for i in range(turns):
        # Request k of user u goes to process (u + k) % P: round robin, no stickiness, and
        # with two processes a conversation's consecutive turns alternate between them
        # (request 0 created the conversation).
        url = urls[(user + 1 + i) % len(urls)]
        number = saved[conversation_id] + 1
        turn, accepted = await _turn(client, url, conversation_id, _prompt(user, i), number)
        saved[conversation_id] += accepted
        result.turns.append(turn)
        if turn.error:
            result.errors[turn.error] += 1


async def _check_stored(
    client: httpx.AsyncClient, url: str, conversation_id: str, expected: int
) -> str | None:
    """What is wrong with a conversation as stored, after its turns; None if nothing."""
    response = await client.get(
        f"{url}/api/conversations/{conversation_id}/messages", params={"limit": 500}
    )
    if response.status_code != 200:
        return f"stored: listing answered {response.status_code}"
    items = response.json()["items"]
    if len(items) != 2 * expected:
        return f"stored: {len(items)} messages on the branch, expected {2 * expected}"
    for parent, child in zip([None, *items], items, strict=False):
        if child["parent_id"] != (parent["id"] if parent else None):
            return "stored: the branch is not one chain"
    statuses = {m["status"] for m in items}
    if statuses != {"complete"}:
        return f"stored: statuses {sorted(statuses)}"
    return None


async def _load(servers: list[Server], load: Load, case: Case) -> Result:
    result = Result(case, load)
    urls = [s.url for s in servers]
    limits = httpx.Limits(max_connections=2 * load.users + 8, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=TURN_TIMEOUT, limits=limits, trust_env=False) as client:
        # Warm-up, not measured: one turn per process, so imports, the highlighter and the
        # first database connections are not charged to the load.
        for url in urls:
            warm = await _create(client, url, "warm-up")
            await _turn(client, url, warm, _prompt(-1, 0), 1)
        conversations = await asyncio.gather(
            *(_create(client, urls[u % len(urls)], f"user {u}") for u in range(load.users))
        )
        cpu_before = [s.cpu() for s in servers]
        client_before = time.process_time()
        started = time.perf_counter()
        saved: dict[str, int] = {}
        users = [
            _user(client, urls, u, conversations[u], load.turns, result, saved)
            for u in range(load.users)
        ]
        try:
            async with asyncio.timeout(LOAD_BUDGET):
                await asyncio.gather(*users)
        except TimeoutError:
            missing = load.users * load.turns - len(result.turns)
            result.errors[f"not finished within {LOAD_BUDGET:.0f} s"] += missing
        result.wall = time.perf_counter() - started
        result.client_cpu = time.process_time() - client_before
        result.server_cpu = _spent(cpu_before, [s.cpu() for s in servers])
        # Read back through the last process: with two, not the one that created them.
        checks = await asyncio.gather(
            *(_check_stored(client, urls[-1], c, n) for c, n in saved.items())
        )
        result.errors.update(c for c in checks if c)
    return result


def _spent(before: list[float | None], after: list[float | None]) -> float | None:
    total = 0.0
    for b, a in zip(before, after, strict=True):
        if a is None or b is None:
            return None
        total += a - b
    return total


def _run_case(
    case: Case, loads: list[Load], maintenance: str, keep_logs: Path | None
) -> tuple[list[Result], LogFindings]:
    results: list[Result] = []
    findings = LogFindings()
    with tempfile.TemporaryDirectory(prefix="parley-scale-") as name:
        directory = Path(name)
        with _database(case, maintenance, directory) as url:
            servers: list[Server] = []
            try:
                with _servers(case.processes, url, directory) as servers:
                    for load in loads:
                        started = time.perf_counter()
                        results.append(asyncio.run(_load(servers, load, case)))
                        print(
                            f"  {case.label}, {load.users} users: "
                            f"{time.perf_counter() - started:.1f}s",
                            file=sys.stderr,
                            flush=True,
                        )
            finally:
                for i, server in enumerate(servers):
                    text = server.log.read_text(errors="replace")
                    findings.read(text)
                    if keep_logs:
                        slug = case.label.replace(" ", "-")
                        (keep_logs / f"{slug}-{i + 1}.log").write_text(text)
    return results, findings


# -- Report ----------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _agent_alone() -> tuple[float, float]:
    """The paced agent in this process, no Parley: seconds for one reply with nothing else
    running, and CPU seconds per reply over a few at once (Pydantic AI's own share of a turn)."""

    async def reply() -> None:
        async with agents.paced_agent.run_stream_events("warm-up") as stream:
            async for _ in stream:
                pass

    async def run() -> tuple[float, float]:
        await reply()
        started = time.perf_counter()
        await reply()
        alone = time.perf_counter() - started
        cpu = time.process_time()
        await asyncio.gather(*(reply() for _ in range(8)))
        return alone, (time.process_time() - cpu) / 8

    return asyncio.run(run())


def _header(argv: list[str], quick: bool, loads: list[Load], postgres: str | None) -> list[str]:
    command = shlex.join([".venv/bin/python", "-m", "bench.scale", *argv])
    uname = platform.uname()
    reply = agents.reply_text(1)
    chunks = -(-len(reply) // agents.CHUNK)
    users = " and ".join(str(load.users) for load in loads)
    turns = loads[0].turns
    alone, cpu = _agent_alone()
    return [
        "Parley scale benchmark: concurrent users against real `parley serve` processes"
        + (" (quick)" if quick else ""),
        f"command   {command}",
        f"python    {platform.python_implementation()} {platform.python_version()}, "
        f"{uname.system} {uname.machine}, {os.cpu_count()} CPUs, load average "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
        + " at the start",
        f"packages  parley {version('parley')}, pydantic-ai-slim {version('pydantic-ai-slim')}, "
        f"fastapi {version('fastapi')}, uvicorn {version('uvicorn')}, "
        f"sqlalchemy {version('sqlalchemy')}, aiosqlite {version('aiosqlite')}, "
        f"asyncpg {version('asyncpg')}, httpx {version('httpx')}",
        f"postgres  {postgres or 'not reachable: PostgreSQL cases skipped'}",
        f"model     {AGENT}: a {len(reply)}-char markdown reply in {chunks} chunks of "
        f"{agents.CHUNK} chars, {agents.PACE * 1000:g} ms apart",
        f"          the agent alone, no Parley: {alone:.2f} s a reply, {_ms(cpu)} ms CPU a reply "
        "(8 at once)",
        f"load      {users} virtual users, each its own conversation and {turns} turns one "
        "after another,",
        "          requests round-robin over the case's processes (no sticky sessions)",
        "",
    ]


def _report(results: list[Result]) -> list[str]:
    rows = []
    for r in results:
        ok = r.ok
        totals = [t.total for t in ok]
        ttfts = [t.ttft for t in ok if t.ttft is not None]

        def spread(values: list[float]) -> list[str]:
            if not values:
                return ["-", "-", "-"]
            return [_ms(_percentile(values, q)) for q in (0.5, 0.95, 0.99)]

        server_cpu = "-" if r.server_cpu is None or not ok else _ms(r.server_cpu / len(ok))
        rows.append(
            [
                r.case.label,
                str(r.load.users),
                str(len(r.turns)),
                f"{len(ok) / r.wall:.1f}",
                *spread(ttfts),
                *spread(totals),
                str(sum(r.errors.values())),
                server_cpu,
                f"{r.client_cpu / r.wall * 100:.0f}%",
            ]
        )
    header = [
        "case",
        "users",
        "turns",
        "turns/s",
        "ttft p50",
        "p95",
        "p99",
        "done p50",
        "p95",
        "p99",
        "errors",
        "cpu ms",
        "gen",
    ]
    return [
        "Throughput and latency (ms) under load",
        *table(header, rows),
        "  turns    prompts sent (users x turns each); turns/s counts those that ended well,",
        "           over the wall time of the whole load",
        "  ttft     from sending the prompt to the first `text` event",
        "  done     from sending the prompt to the `done` event (the reply is saved by then)",
        "  errors   non-200, no `done`, a status other than complete, a reply whose history",
        "           was wrong, or a conversation stored wrong (read back after the load)",
        "  cpu ms   server CPU (user + system, all processes of the case) per turn",
        "  gen      the load generator's CPU, % of one core: it shares the machine",
        "",
    ]


def _errors_section(results: list[Result], findings: dict[str, LogFindings]) -> list[str]:
    lines: list[str] = []
    for r in results:
        for error, count in r.errors.most_common():
            lines.append(f"  {r.case.label}, {r.load.users} users: {count} x {error}")
    if lines:
        lines.insert(0, "Errors seen by the load generator")
    lines.append("Server logs (unexpected statuses, warnings, errors, tracebacks)")
    for label, found in findings.items():
        if not found.counts:
            lines.append(f"  {label}: clean")
        for problem, count in found.counts.most_common(10):
            lines.append(f"  {label}: {count} x {problem}")
    for label, found in findings.items():
        for kind, example in found.examples.items():
            lines += ["", f"First {kind.removeprefix('traceback: ')!r} ({label}), shortened:"]
            lines += [f"  {line}" for line in example]
    return lines


def main(argv: list[str] | None = None) -> None:
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer users and turns")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PARLEY_BENCH_POSTGRES", POSTGRES),
        help="a PostgreSQL database to connect to for creating and dropping the benchmark's "
        f"own (default {POSTGRES}, or PARLEY_BENCH_POSTGRES)",
    )
    parser.add_argument(
        "--users", help="comma-separated concurrency levels, instead of the default ones"
    )
    parser.add_argument("--turns", type=int, help="turns per user, instead of the default")
    parser.add_argument(
        "--case",
        action="append",
        choices=[c.label.replace(" ", "-") for c in CASES],
        help="run only this case (repeatable)",
    )
    parser.add_argument("--logs", type=Path, help="keep the server logs in this directory")
    args = parser.parse_args(args_list)
    loads = QUICK if args.quick else FULL
    if args.users:
        loads = [Load(int(u), loads[0].turns) for u in args.users.split(",")]
    if args.turns:
        loads = [Load(load.users, args.turns) for load in loads]

    try:
        postgres: str | None = asyncio.run(_postgres_version(args.postgres))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL at {args.postgres}: {exc}", file=sys.stderr)
        postgres = None
    cases = [
        c
        for c in CASES
        if (postgres or c.backend == "sqlite")
        and (not args.case or c.label.replace(" ", "-") in args.case)
    ]
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)

    print("\n".join(_header(args_list, args.quick, loads, postgres)), flush=True)
    started = time.perf_counter()
    results: list[Result] = []
    findings: dict[str, LogFindings] = {}
    for case in cases:
        case_results, findings[case.label] = _run_case(case, loads, args.postgres, args.logs)
        results += case_results
    lines = [*_report(results), *_errors_section(results, findings)]
    lines.append(f"total {time.perf_counter() - started:.0f}s")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
