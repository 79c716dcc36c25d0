"""What a turn costs: Parley's CPU per turn beside a bare Pydantic AI run of the same model and
history, where the difference goes, and the bytes a reply takes on the wire.

Run from the repository root: `python -m bench.core` (about a minute) or `--quick`.
See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import gc
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pydantic_ai.models
from pydantic_ai.agent import AbstractAgent
from pydantic_ai.messages import (
    AgentStreamEvent,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    UserPromptPart,
)
from pydantic_ai.run import AgentRunResultEvent

from parley.app import create_app
from parley.chat.history import read_history
from parley.chat.models import TextPart, Usage
from parley.chat.store import Fresh, Store
from parley.chat.tree import load_tree
from parley.db.ids import new_id
from parley.db.tables import conversations
from parley.render import render_markdown
from parley.runs.events import ReplyStream, WireEvent
from parley.settings import Settings
from parley.web.deps import LOCAL_OWNER
from parley.web.sse import encode

from . import profiling, workload
from .table import table
from .wire import Wire

# The benchmark must never reach a real provider.
pydantic_ai.models.ALLOW_MODEL_REQUESTS = False

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
Pair = tuple[ModelRequest, ModelResponse]

# Pause between model chunks for the "paced" row: the event loop goes idle between deltas,
# as it does with a real model streaming over the network.
_PACE = 0.001


@dataclass(frozen=True)
class Plan:
    history: int
    turns: int
    pace: float = 0.0
    # Cold: the history is read from the database every turn (the first turn after a
    # restart, or a conversation another process served last). Warm: this process served
    # the previous turn, so the Store's history cache has it, as in a running server.
    cold: bool = False

    @property
    def label(self) -> str:
        paced = f", paced {self.pace * 1000:g} ms/chunk" if self.pace else ""
        cold = ", cold history" if self.cold else ""
        return f"{self.history} earlier turns{paced}{cold}"


FULL = [
    Plan(10, 30),
    Plan(500, 15),
    Plan(500, 15, cold=True),
    Plan(10, 10, pace=_PACE),
]
QUICK = [Plan(10, 5), Plan(500, 3), Plan(500, 3, cold=True), Plan(10, 3, pace=_PACE)]


@dataclass
class Row:
    """Seconds of CPU per measured turn, by what was measured."""

    plan: Plan
    parley: list[float] = field(default_factory=list)
    client: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    # Parley's pieces, each timed alone (not for paced plans).
    store: list[float] = field(default_factory=list)
    history_read: list[float] = field(default_factory=list)
    reply: list[float] = field(default_factory=list)
    encode: list[float] = field(default_factory=list)
    body: bytes = b""
    setup_s: float = 0.0


def _cpu() -> float:
    # The whole process, every thread: aiosqlite runs SQLite in a thread of its own.
    return time.process_time()


# -- Parley, in process ----------------------------------------------------------------------


class _Recorder:
    """ASGI wrapper that keeps the response's start message and body chunks, as sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        self.headers, self.chunks = [], []

        async def record(message: _Message) -> None:
            if message["type"] == "http.response.start":
                self.headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body" and message.get("body"):
                self.chunks.append(message["body"])
            await send(message)

        await self.app(scope, receive, record)


def _replay(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> Any:
    """An ASGI app that answers with a recorded response: what the client costs on its own."""

    async def app(scope: _Scope, receive: _Receive, send: _Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def _send(client: httpx.AsyncClient, conversation_id: str, text: str) -> bytes:
    response = await client.post(
        f"/api/conversations/{conversation_id}/messages", json={"prompt": text}
    )
    body = response.content
    if response.status_code != 200 or b"event: done" not in body:
        raise RuntimeError(f"send failed: {response.status_code} {body[-300:]!r}")
    return body


def _reply_parts() -> list[TextPart]:
    return [TextPart(text=workload.REPLY, html=render_markdown(workload.REPLY))]


def _usage(response: ModelResponse) -> Usage:
    return Usage(
        input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens
    )


async def _populate(store: Store, conversation_id: str, pairs: list[Pair], model: str) -> str:
    """Save the pairs as finished turns through the Store; returns the last message's id."""
    parts = _reply_parts()
    leaf = ""
    for request, response in pairs:
        text = next(p.content for p in request.parts if isinstance(p, UserPromptPart))
        assert isinstance(text, str)
        turn = await store.start_turn(
            LOCAL_OWNER, conversation_id, Fresh(text, [request]), new_id(), model
        )
        assert turn is not None
        await store.finish_turn(
            turn,
            user_request=None,
            response_messages=[response],
            parts=parts,
            status="complete",
            error=None,
            usage=_usage(response),
        )
        leaf = turn.assistant.id
    return leaf


async def _rewind(
    store: Store, conversation_id: str, leaf: str, history: list[ModelMessage] | None
) -> None:
    # Point the conversation back at the end of the prepared history (what "regenerate" will
    # do), so every measured turn continues exactly `history` earlier turns; for a warm plan,
    # leave the Store's cache as the previous turn of a running server would.
    if history is not None:
        store.histories.put(conversation_id, leaf, list(history))
    async with store.engine.begin() as conn:
        await conn.execute(
            conversations.update()
            .where(conversations.c.id == conversation_id)
            .values(current_leaf_id=leaf)
        )


async def _timed(
    work: Callable[[], Awaitable[object]], profile: cProfile.Profile | None = None
) -> float:
    gc.collect()
    if profile:
        profile.enable()
    start = _cpu()
    await work()
    spent = _cpu() - start
    if profile:
        profile.disable()
    return spent


def _timed_sync(work: Callable[[], object]) -> float:
    gc.collect()
    start = _cpu()
    work()
    return _cpu() - start


async def _bare_run(agent: AbstractAgent[Any, Any], text: str, history: list[ModelMessage]) -> None:
    async with agent.run_stream_events(text, message_history=history) as stream:
        async for _ in stream:
            pass


async def _store_turn(
    store: Store, conversation_id: str, text: str, template: Pair, model: str
) -> None:
    """The database work of one turn alone: start_turn and finish_turn, as a run calls them."""
    request, response = template
    fresh = Fresh(text, [ModelRequest([UserPromptPart(text)])])
    turn = await store.start_turn(LOCAL_OWNER, conversation_id, fresh, new_id(), model)
    assert turn is not None
    await store.finish_turn(
        turn,
        user_request=[request],
        response_messages=[response],
        parts=_reply_parts(),
        status="complete",
        error=None,
        usage=_usage(response),
    )


async def _read_history(store: Store, conversation_id: str, leaf: str) -> None:
    async with store.engine.connect() as conn:
        await read_history(conn, (await load_tree(conn, conversation_id)).branch(leaf))


async def _build_reply(events: list[AgentStreamEvent]) -> None:
    async def replay() -> AsyncIterator[AgentStreamEvent]:
        for event in events:
            yield event

    builder = ReplyStream()
    async for _ in builder.transform_stream(replay()):
        pass
    builder.close()


def _encode_frames(wire: list[WireEvent]) -> None:
    # The frames of a recorded reply (deltas already merged as Run.frames merged them), each
    # encoded as it was sent.
    for i in range(len(wire)):
        encode([(i, *wire[i])])


async def _agent_events() -> list[AgentStreamEvent]:
    events: list[AgentStreamEvent] = []
    async with workload.FixedReply().agent().run_stream_events(workload.prompt(0)) as stream:
        async for event in stream:
            if not isinstance(event, AgentRunResultEvent):
                events.append(event)
    return events


async def _measure(
    plan: Plan,
    pairs: list[Pair],
    template: Pair,
    events: list[AgentStreamEvent],
    directory: Path,
    profiles: tuple[cProfile.Profile, cProfile.Profile] | None,
) -> Row:
    """Everything for one plan, interleaved turn by turn, so that load from other processes
    on the machine falls on Parley, the bare agent and the pieces alike."""
    row = Row(plan)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{directory / 'parley.db'}")
    app = create_app(settings, agent=workload.FixedReply(pace=plan.pace).agent())
    bare_agent = workload.FixedReply(pace=plan.pace).agent()
    history = workload.flatten(pairs[: plan.history])
    recorder = _Recorder(app)
    parley_profile, bare_profile = profiles or (None, None)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(_client(app))
        recording = await stack.enter_async_context(_client(recorder))
        store: Store = app.state.services.store
        model: str = app.state.services.model

        started = time.perf_counter()
        created = await client.post("/api/conversations", json={"title": "bench"})
        conversation_id: str = created.json()["id"]
        leaf = await _populate(store, conversation_id, pairs[: plan.history], model)
        warm = None if plan.cold else history
        await _rewind(store, conversation_id, leaf, warm)
        row.setup_s = time.perf_counter() - started

        # Warm-ups. The recorded response is what the client-only stub replays.
        await _send(recording, conversation_id, workload.prompt(0))
        await _rewind(store, conversation_id, leaf, warm)
        row.body = await _send(client, conversation_id, workload.prompt(0))
        await _rewind(store, conversation_id, leaf, warm)
        replay = await stack.enter_async_context(
            _client(_replay(recorder.headers, recorder.chunks))
        )
        await _send(replay, "replay", workload.prompt(0))
        await _bare_run(bare_agent, workload.prompt(0), history)
        await _store_turn(store, conversation_id, workload.prompt(0), template, model)
        await _rewind(store, conversation_id, leaf, warm)
        wire: list[WireEvent] = [
            (f.event, f.data) for f in Wire.of("", row.body, workload.REPLY).frames
        ]

        for i in range(plan.turns):
            text = workload.prompt(plan.history + 1 + i)

            async def parley_turn(text: str = text) -> None:
                row.body = await _send(client, conversation_id, text)

            async def bare_turn(text: str = text) -> None:
                await _bare_run(bare_agent, text, history)

            # Alternate which goes first, so neither always runs on a warmer cache.
            for which in ("parley", "bare") if i % 2 == 0 else ("bare", "parley"):
                if which == "parley":
                    row.parley.append(await _timed(parley_turn, parley_profile))
                    await _rewind(store, conversation_id, leaf, warm)
                else:
                    row.bare.append(await _timed(bare_turn, bare_profile))
            row.client.append(await _timed(functools.partial(_send, replay, "replay", text)))
            if plan.pace:
                continue
            row.store.append(
                await _timed(
                    functools.partial(_store_turn, store, conversation_id, text, template, model)
                )
            )
            await _rewind(store, conversation_id, leaf, warm)
            # A warm turn takes its history from the cache: no read to time.
            row.history_read.append(
                await _timed(lambda: _read_history(store, conversation_id, leaf))
                if plan.cold
                else 0.0
            )
            row.reply.append(await _timed(lambda: _build_reply(events)))
            row.encode.append(_timed_sync(lambda: _encode_frames(wire)))
    return row


# -- Report ----------------------------------------------------------------------------------


def _ms(values: list[float]) -> float:
    return statistics.fmean(values) * 1000


def _header(argv: list[str], quick: bool) -> list[str]:
    command = shlex.join([".venv/bin/python", "-m", "bench.core", *argv])
    uname = platform.uname()
    reply = workload.REPLY
    chunks = -(-len(reply) // workload.CHUNK)
    return [
        "Parley benchmark: CPU per turn and bytes per reply" + (" (quick)" if quick else ""),
        f"command   {command}",
        f"python    {platform.python_implementation()} {platform.python_version()}, "
        f"{uname.system} {uname.machine}, {os.cpu_count()} CPUs",
        f"packages  parley {version('parley')}, pydantic-ai-slim {version('pydantic-ai-slim')}, "
        f"fastapi {version('fastapi')}, starlette {version('starlette')}, "
        f"sqlalchemy {version('sqlalchemy')}, aiosqlite {version('aiosqlite')}, "
        f"httpx {version('httpx')}",
        f"model     FunctionModel, no latency unless paced: a {len(reply):,}-char markdown reply "
        f"in {chunks} chunks of {workload.CHUNK} chars",
        "",
    ]


def _cpu_section(rows: list[Row]) -> list[str]:
    body = []
    for r in rows:
        parley, client, bare = _ms(r.parley), _ms(r.client), _ms(r.bare)
        server = parley - client
        median = statistics.median(r.parley) - statistics.median(r.client)
        median_bare = statistics.median(r.bare)
        body.append(
            [
                r.plan.label,
                str(r.plan.turns),
                f"{parley:.2f}",
                f"{client:.2f}",
                f"{server:.2f}",
                f"{bare:.2f}",
                f"{server - bare:+.2f}",
                f"{(server - bare) / bare * 100:+.0f}%",
                f"{(median - median_bare) / median_bare * 100:+.0f}%",
            ]
        )
    header = ["history", "K", "parley", "client", "server", "bare", "added", "overhead", "p50"]
    return [
        "CPU per turn, ms: time.process_time() of the whole process (all threads), mean of K",
        "turns after a warm-up, gc.collect() before each",
        *table(header, body),
        "  parley   POST /api/conversations/{id}/messages in process until the stream ends, client",
        "           (httpx.ASGITransport) included",
        "  client   the same client against a stub replaying the recorded response: client alone",
        "  server   parley - client",
        "  bare     Agent.run_stream_events over the same history, no Parley",
        "  added    server - bare; overhead = added / bare; p50 = the same from medians",
        "",
    ]


def _breakdown_section(rows: list[Row]) -> list[str]:
    body = []
    for r in rows:
        if r.plan.pace:
            continue
        added = _ms(r.parley) - _ms(r.client) - _ms(r.bare)
        store, history = _ms(r.store), _ms(r.history_read)
        reply, encode = _ms(r.reply), _ms(r.encode)
        rest = added - store - reply - encode
        body.append(
            [
                r.plan.label,
                f"{added:.2f}",
                f"{store:.2f}",
                f"{history:.2f}",
                f"{reply:.2f}",
                f"{encode:.2f}",
                f"{rest:.2f}",
            ]
        )
    return [
        "Where the added CPU goes, ms per turn (each piece timed alone, outside HTTP)",
        *table(["history", "added", "store", "(history)", "reply", "encode", "rest"], body),
        "  store      Store.start_turn + Store.finish_turn on the same database and conversation",
        "  (history)  of which: reading and validating the branch's stored model messages",
        "  reply      ReplyStream over the run's agent events: deltas, markdown blocks rendered,",
        "             highlighted and sanitized",
        "  encode     JSON + SSE framing of the reply's frames, as sent",
        "  rest       added - the above: HTTP and routing, the run task, waking the response for",
        "             each event, one ASGI body message per frame through the middleware",
        "",
    ]


def _wire_section(wires: list[Wire]) -> list[str]:
    reply = len(workload.REPLY.encode())
    html = len(wires[0].html.encode())
    rows = [
        [
            w.label,
            str(len(w.frames)),
            str(w.events),
            f"{w.body:,}",
            f"{w.body / reply:.1f}x",
            f"{w.body / html:.1f}x",
        ]
        for w in wires
    ]
    lines = [
        f"Bytes per reply: SSE response body of one send; reply text {reply:,} B (UTF-8), "
        f"rendered HTML {html:,} B",
        *table(["stream", "frames", "events", "body B", "/text", "/html"], rows),
        "",
    ]
    kinds = ["user", "start", "text", "block", "done"]
    breakdown = []
    for w in wires:
        count = Counter(f.event for f in w.frames)
        size: Counter[str] = Counter()
        for f in w.frames:
            size[f.event] += f.size
        breakdown.append([w.label, *(f"{count[k]} / {size[k]:,}" for k in kinds)])
    text_frames = [f for f in wires[0].frames if f.event == "text"]
    framing = sum(f.size - len(f.data["d"].encode()) for f in text_frames)
    return [
        *lines,
        "Frames by event: frames / bytes",
        *table(["stream", *kinds], breakdown),
        "  events = event ids; consecutive text deltas already queued when the response wakes",
        "  share one frame, so frames < events means deltas were merged",
        f"  text frames spend {framing:,} B of framing (id, event, JSON) on "
        f"{reply:,} B of text: {framing / max(len(text_frames), 1):.0f} B per frame",
        "",
    ]


async def _run(
    plans: list[Plan], profile_history: int | None
) -> tuple[list[Row], tuple[Row, cProfile.Profile, cProfile.Profile] | None]:
    template = await workload.template_turn()
    pairs = workload.history(template, max(p.history for p in plans))
    events = await _agent_events()
    rows: list[Row] = []
    profiled: tuple[Row, cProfile.Profile, cProfile.Profile] | None = None
    for plan in plans:
        profiles = None
        if profiled is None and profile_history == plan.history and not plan.pace:
            profiles = (cProfile.Profile(), cProfile.Profile())
        with tempfile.TemporaryDirectory(prefix="parley-bench-") as directory:
            row = await _measure(plan, pairs, template, events, Path(directory), profiles)
        if profiles:
            profiled = (row, *profiles)
        rows.append(row)
    return rows, profiled


def main(argv: list[str] | None = None) -> None:
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.core", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer turns, for a short run")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="HISTORY",
        help="also profile the turns at this history length (10 or 500): where Parley's time goes",
    )
    args = parser.parse_args(args_list)
    plans = QUICK if args.quick else FULL

    print("\n".join(_header(args_list, args.quick)), flush=True)
    started = time.perf_counter()
    rows, profiled = asyncio.run(_run(plans, args.profile))
    wires = [
        Wire.of(r.plan.label.replace("earlier ", ""), r.body, workload.REPLY)
        for r in rows
        if r.plan.history == plans[0].history
    ]

    lines = [*_cpu_section(rows), *_breakdown_section(rows), *_wire_section(wires)]
    setup = ", ".join(f"{r.plan.history} turns {r.setup_s:.1f}s" for r in rows if not r.plan.pace)
    lines.append(
        f"setup (history saved through Store): {setup}; total {time.perf_counter() - started:.0f}s"
    )
    if profiled is not None:
        row, parley_profile, bare_profile = profiled
        report = profiling.report(parley_profile, bare_profile, row.plan.turns, row.plan.label)
        lines += ["", *report]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
