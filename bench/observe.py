"""What observing Parley costs: CPU per turn with Prometheus metrics, OpenTelemetry tracing, and
both, on against off, and the CPU of one /metrics scrape.

Run from the repository root: `python -m bench.observe` (about 20 s) or `--quick`.
Each variant is its own app on its own SQLite file; their turns are interleaved (the order
rotating every turn) so that load from elsewhere on the machine falls on all of them alike.
A new way to observe is one more `Variant` in VARIANTS. Traces go to a sink in a process of
its own (bench/otlpsink.py, which answers every export and keeps nothing), so what is measured
is Parley's side: making the spans and exporting them.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pydantic_ai.models

from parley.app import create_app
from parley.settings import Settings

from . import workload
from .table import table

# The benchmark must never reach a real provider.
pydantic_ai.models.ALLOW_MODEL_REQUESTS = False


@dataclass(frozen=True)
class Variant:
    name: str
    # Settings on top of the baseline's.
    settings: dict[str, Any] = field(default_factory=dict)
    # Whether the app sends traces (to the sink).
    traced: bool = False


VARIANTS = [
    Variant("off"),
    Variant("metrics", {"metrics": True}),
    Variant("tracing", traced=True),
    Variant("both", {"metrics": True}, traced=True),
]


@dataclass
class Result:
    variant: Variant
    turns: list[float] = field(default_factory=list)
    scrapes: list[float] = field(default_factory=list)


def _cpu() -> float:
    # The whole process, every thread: aiosqlite runs SQLite in a thread of its own.
    return time.process_time()


async def _timed(work: Callable[[], Awaitable[object]]) -> float:
    gc.collect()
    start = _cpu()
    await work()
    return _cpu() - start


async def _new_conversation(client: httpx.AsyncClient) -> str:
    created = await client.post("/api/conversations", json={})
    conversation_id: str = created.json()["id"]
    return conversation_id


async def _send(client: httpx.AsyncClient, conversation_id: str) -> None:
    """One turn: the prompt sent, the reply streamed to its end."""
    response = await client.post(
        f"/api/conversations/{conversation_id}/messages", json={"prompt": workload.prompt(1)}
    )
    if response.status_code != 200 or b"event: done" not in response.content:
        raise RuntimeError(f"send failed: {response.status_code} {response.content[-300:]!r}")


async def _run(turns: int, directory: Path, sink: str) -> list[Result]:
    results = [Result(v) for v in VARIANTS]
    async with AsyncExitStack() as stack:
        clients: list[httpx.AsyncClient] = []
        for i, result in enumerate(results):
            settings = Settings(
                database_url=f"sqlite+aiosqlite:///{directory / f'parley-{i}.db'}",
                # A title is one more model request after the first reply: not what is measured.
                generate_titles=False,
                **result.variant.settings,
            )
            # The standard variable, read when the app is made (observe/tracing.py).
            if result.variant.traced:
                os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink
            try:
                app = create_app(settings, agent=workload.FixedReply().agent())
            finally:
                os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://localhost")
            clients.append(await stack.enter_async_context(client))
        for client in clients:  # warm-up
            await _send(client, await _new_conversation(client))
        for n in range(turns):
            order = list(range(len(results)))
            order = order[n % len(order) :] + order[: n % len(order)]
            for i in order:
                # A new conversation each turn (not measured): every turn is a first reply.
                client, conversation_id = clients[i], await _new_conversation(clients[i])
                results[i].turns.append(
                    await _timed(functools.partial(_send, client, conversation_id))
                )
        for result, client in zip(results, clients, strict=True):
            if not result.variant.settings.get("metrics"):
                continue
            for _ in range(max(turns // 2, 3)):
                result.scrapes.append(await _timed(functools.partial(client.get, "/metrics")))
    return results


def _report(results: list[Result]) -> list[str]:
    base = statistics.fmean(results[0].turns)
    rows = []
    for result in results:
        mean = statistics.fmean(result.turns)
        scrape = f"{statistics.fmean(result.scrapes) * 1000:.2f}" if result.scrapes else "-"
        rows.append(
            [
                result.variant.name,
                str(len(result.turns)),
                f"{mean * 1000:.2f}",
                f"{statistics.median(result.turns) * 1000:.2f}",
                f"{(mean / base - 1) * 100:+.1f}%",
                scrape,
            ]
        )
    header = ["variant", "turns", "CPU ms/turn", "p50", "vs off", "CPU ms/scrape"]
    return table(header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.observe", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer turns, for a short run")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    turns = 10 if args.quick else 60
    with subprocess.Popen(
        [sys.executable, "-m", "bench.otlpsink"], stdout=subprocess.PIPE, text=True
    ) as sink:
        try:
            assert sink.stdout is not None
            url = sink.stdout.readline().strip()
            with tempfile.TemporaryDirectory(prefix="parley-bench-") as directory:
                results = asyncio.run(_run(turns, Path(directory), url))
        finally:
            sink.terminate()
    print(
        "CPU per turn (a new conversation, the 1,556-character reply in 4-character chunks), "
        "process time, in process"
    )
    print("\n".join(_report(results)))


if __name__ == "__main__":
    main()
