"""What durability costs: CPU per streamed token with the reply checkpointed to the database
every `checkpoint_interval` seconds, against the same turns with checkpoints effectively off.

Run from the repository root: `python -m bench.durability` (about a minute) or `--quick`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pydantic_ai.models
from fastapi import FastAPI
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    PartStartEvent,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo

from parley.app import create_app
from parley.chat.store import Fresh, Store
from parley.runs.events import ReplyStream
from parley.runs.store import RunStore
from parley.settings import Settings
from parley.web.deps import LOCAL_OWNER

from . import workload
from .core import _client, _send
from .table import table

# A long reply streamed at a realistic pace, so a turn spans several checkpoint intervals.
_REPEAT = 4
_PACE = 0.002
_OFF = 1e9  # an interval no turn reaches: no checkpoint is ever written


@dataclass(frozen=True)
class Case:
    label: str
    interval: float


CASES = [
    Case("off (no checkpoint)", _OFF),
    Case("every 1 s (default)", 1.0),
    Case("every 0.25 s", 0.25),
]


class _LongReply(workload.FixedReply):
    async def stream(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for _ in range(_REPEAT):
            async for chunk in super().stream(messages, info):
                yield chunk


async def _per_checkpoint(app: FastAPI, client: httpx.AsyncClient, samples: int) -> float:
    """CPU seconds of one checkpoint: snapshot and render the whole long reply, store one
    interval's worth of events (a delta every `_PACE` seconds for 1 s), UPDATE the message
    and the heartbeat."""
    created = await client.post("/api/conversations", json={})
    cid = created.json()["id"]
    store: Store = app.state.services.store
    request = ModelRequest(parts=[UserPromptPart("x")])
    turn = await store.start_turn(LOCAL_OWNER, cid, Fresh("x", [request]), "bench", "bench")
    assert turn is not None
    builder = ReplyStream()
    async for _ in builder.handle_event(
        PartStartEvent(index=0, part=TextPart(content=_REPEAT * workload.REPLY))
    ):
        pass
    run_store = RunStore(store.engine)
    batch = [("text", {"d": "abcd"})] * int(1 / _PACE)
    gc.collect()
    start = time.process_time()
    for i in range(samples):
        parts = builder.snapshot(rendered=True)
        await run_store.checkpoint("bench", turn.assistant.id, parts, batch, i * len(batch))
    return (time.process_time() - start) / samples


async def _run(turns: int) -> tuple[list[list[str]], float]:
    tokens = _REPEAT * -(-len(workload.REPLY) // workload.CHUNK)
    cpu: dict[Case, list[float]] = {case: [] for case in CASES}
    wall: dict[Case, list[float]] = {case: [] for case in CASES}
    with tempfile.TemporaryDirectory() as folder:
        async with AsyncExitStack() as stack:
            clients: dict[Case, httpx.AsyncClient] = {}
            apps: dict[Case, FastAPI] = {}
            for case in CASES:
                settings = Settings(
                    database_url=f"sqlite+aiosqlite:///{Path(folder) / f'{case.interval}.db'}",
                    checkpoint_interval=case.interval,
                )
                app = create_app(settings, agent=_LongReply(pace=_PACE).agent())
                await stack.enter_async_context(app.router.lifespan_context(app))
                apps[case] = app
                clients[case] = await stack.enter_async_context(_client(app))
            # Turn by turn, the cases in a rotating order, so load from elsewhere on the
            # machine falls on all of them alike; the first round warms up.
            for i in range(turns + 1):
                order = CASES[i % len(CASES) :] + CASES[: i % len(CASES)]
                for case in order:
                    created = await clients[case].post("/api/conversations", json={})
                    gc.collect()
                    start_cpu, start_wall = time.process_time(), time.perf_counter()
                    await _send(clients[case], created.json()["id"], workload.prompt(i))
                    if i:
                        cpu[case].append(time.process_time() - start_cpu)
                        wall[case].append(time.perf_counter() - start_wall)
            one = await _per_checkpoint(apps[CASES[1]], clients[CASES[1]], 50)
    base = statistics.median(cpu[CASES[0]])
    rows: list[list[str]] = []
    for case in CASES:
        median = statistics.median(cpu[case])
        seconds = statistics.mean(wall[case])
        writes = 0 if case.interval == _OFF else int(seconds / case.interval)
        rows.append(
            [
                case.label,
                str(turns),
                f"{seconds:.2f}",
                str(writes),
                f"{median * 1000:.1f}",
                f"{median / tokens * 1e6:.1f}",
                f"{(median - base) / tokens * 1e6:+.2f}",
                f"{writes * one / tokens * 1e6:.2f}",
            ]
        )
    return rows, one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer turns")
    args = parser.parse_args()
    pydantic_ai.models.ALLOW_MODEL_REQUESTS = False
    turns = 3 if args.quick else 8
    tokens = _REPEAT * -(-len(workload.REPLY) // workload.CHUNK)
    rows, one = asyncio.run(_run(turns))
    print("Parley benchmark: the cost of checkpointing a reply while it streams")
    print(f"command   python -m bench.durability{' --quick' if args.quick else ''}")
    print(f"python    {platform.python_implementation()} {platform.python_version()}, ", end="")
    print(f"{os.cpu_count()} CPUs")
    print(
        f"reply     {_REPEAT * len(workload.REPLY):,} chars in {tokens:,} chunks "
        f"of {workload.CHUNK}, {_PACE * 1000:g} ms apart"
    )
    print()
    header = ["checkpoints", "K", "wall s", "writes", "CPU ms", "µs/token", "added", "direct"]
    print("\n".join(table(header, rows)))
    print("  writes    checkpoints in a turn (the turn's wall time / interval)")
    print("  CPU ms    CPU of the whole process per turn, median of K turns")
    print("  µs/token  that CPU per streamed chunk")
    print("  added     µs/token beyond the turns without checkpoints (end to end, noisy)")
    print(
        f"  direct    writes x the CPU of one checkpoint ({one * 1000:.2f} ms: snapshot, render "
        "the open tail, insert a second of events, UPDATE), per token"
    )


if __name__ == "__main__":
    main()
