"""Replies that outlive their clients: stop, failures, timeouts, reattach, crashes."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..support.agents_for_cli import slow_agent, slow_reply
from ..support.browser import serve as serve_in_thread
from ..support.client import (
    full_message,
    iter_frames,
    new_conversation,
    parse_sse,
    send,
    texts_of,
    wait_until_saved,
)
from ..support.databases import engine_on
from ..support.models import Echo, prompts_of, reply_to
from ..support.processes import Server, http_client, settings_env
from ..web.test_serve_e2e import messages_of


def _stream_until_text(client: TestClient, cid: str, prompt: str) -> str:
    """Start a reply and return its run id once the first text has arrived."""
    run_id = ""
    with client.stream(
        "POST", f"/api/conversations/{cid}/messages", json={"prompt": prompt}
    ) as response:
        for frame in iter_frames(response.iter_lines()):
            if frame.event == "start":
                run_id = frame.data["run_id"]
            if frame.event == "text":
                break
    return run_id


def _wait_settled(client: TestClient, cid: str) -> list[dict[str, object]]:
    deadline = time.monotonic() + 15
    while True:
        items: list[dict[str, object]] = client.get(f"/api/conversations/{cid}/messages").json()[
            "items"
        ]
        if items[-1]["status"] != "generating" or time.monotonic() > deadline:
            return items
        time.sleep(0.02)


class Stalls:
    """First call: some text, then waits forever. Later calls: record the history and answer."""

    def __init__(self) -> None:
        self.calls: list[list[ModelMessage]] = []

    async def stream(self, messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        self.calls.append(list(messages))
        if len(self.calls) == 1:
            yield "Partial "
            yield "answer"
            await asyncio.sleep(3600)
        yield "fine"

    def agent(self) -> Agent[None, str]:
        return Agent(FunctionModel(stream_function=self.stream, model_name="stalls"))


def test_the_prompt_is_saved_before_the_model_is_called(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    seen: list[list[tuple[str, str]]] = []

    async def stream(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        # A connection of its own, not the app's: it sees only what was committed.
        async with engine_on(database_url) as engine, engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT role, status FROM messages ORDER BY seq"))
            seen.append([(role, status) for role, status in rows])
        yield "ok"

    client = make_client(Agent(FunctionModel(stream_function=stream)))
    send(client, new_conversation(client), "keep this")
    assert seen == [[("user", "complete"), ("assistant", "generating")]]


def test_stop_keeps_the_partial_reply_as_history(make_client: Callable[..., TestClient]) -> None:
    stalls = Stalls()
    client = make_client(stalls.agent())
    cid = new_conversation(client)
    run_id = _stream_until_text(client, cid, "tell me")
    time.sleep(0.1)
    assert client.post(f"/api/runs/{run_id}/stop").status_code == 202

    items = _wait_settled(client, cid)
    assert items[-1]["status"] == "stopped"
    assert texts_of(client, cid, items)[-1] == "Partial answer"

    frames = send(client, cid, "go on")
    assert frames[-1].data["status"] == "complete"
    history = stalls.calls[-1]
    assert prompts_of(history) == ["tell me", "go on"]
    responses = [m for m in history if isinstance(m, ModelResponse)]
    assert [p.content for p in responses[0].parts if isinstance(p, TextPart)] == ["Partial answer"]


def test_a_timeout_keeps_the_partial_reply_and_marks_the_error(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Stalls().agent(), run_timeout=0.5)
    cid = new_conversation(client)
    frames = send(client, cid, "slow")
    assert frames[-1].data["status"] == "error"
    items = client.get(f"/api/conversations/{cid}/messages").json()["items"]
    assert texts_of(client, cid, items)[-1] == "Partial answer"
    assert "too long" in items[-1]["error"]
    assert send(client, cid, "again")[-1].data["status"] == "complete"


def test_a_usage_limit_is_an_error_on_the_reply(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent(), max_output_tokens=1)
    cid = new_conversation(client)
    frames = send(client, cid, "a long answer please")
    assert frames[-1].data["status"] == "error"
    assert "output_tokens_limit" in frames[-1].data["error"]
    items = client.get(f"/api/conversations/{cid}/messages").json()["items"]
    assert items[-1]["status"] == "error"
    # The partial reply is kept: what streamed before the limit tripped.
    kept = texts_of(client, cid, items)[-1]
    assert kept
    assert reply_to("a long answer please").startswith(kept)


def test_checkpoints_save_the_reply_while_it_is_generated(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Stalls().agent(), checkpoint_interval=0.05)
    cid = new_conversation(client)
    _stream_until_text(client, cid, "tell me")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        last = client.get(f"/api/conversations/{cid}/messages").json()["items"][-1]
        saved = full_message(client, cid, last["id"])
        if saved["text"]:
            break
        time.sleep(0.05)
    assert last["status"] == saved["status"] == "generating"
    assert saved["text"] == "Partial answer"
    assert "Partial answer" in saved["parts"][0]["html"]
    listed = client.get(f"/api/conversations/{cid}/messages").json()["items"][-1]
    assert listed["parts"][0]["html"] == saved["parts"][0]["html"]


def _run_async(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_concurrent_sends_start_exactly_one_run(database_url: str) -> None:
    with serve_in_thread(Echo(chunk=1, delay=0.01).agent(), database_url) as base:

        async def race() -> None:
            async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as http:
                cid = (await http.post("/api/conversations", json={})).json()["id"]
                url = f"/api/conversations/{cid}/messages"

                async def post(i: int) -> int:
                    async with http.stream("POST", url, json={"prompt": f"p{i}"}) as response:
                        await response.aread()
                        return response.status_code

                codes = await asyncio.gather(*(post(i) for i in range(2)))
                assert sorted(codes) == [200, 409]
                codes = await asyncio.gather(*(post(i) for i in range(6)))
                assert sorted(codes) == [200] + [409] * 5
                items = (await http.get(url)).json()["items"]
                assert [m["role"] for m in items] == ["user", "assistant"] * 2

        _run_async(race())


# Clients that hang up at random points: enough for every kind of point (before the first
# byte, mid-delta, after done) to come up many times with the fixed seed.
HANG_UPS = 50


def test_replies_of_clients_that_hang_up_anywhere_all_complete(database_url: str) -> None:
    rng = random.Random(1234)
    agent = Echo(chunk=2, delay=0.002).agent()
    # Hung-up replies go on generating while their clients start new ones, so how many are
    # generating at once depends on the database's speed: no limit here (the limit has its
    # own test). With SQLite's one writer at a time it stayed under 20; with PostgreSQL, not.
    with serve_in_thread(agent, database_url, max_runs_per_user=100) as base:

        async def hang_ups() -> None:
            limits = httpx.Limits(max_connections=20)
            async with httpx.AsyncClient(
                base_url=base, trust_env=False, timeout=30, limits=limits
            ) as http:
                gate = asyncio.Semaphore(10)

                async def one(i: int) -> str:
                    async with gate:
                        cid = (await http.post("/api/conversations", json={})).json()["id"]
                        url = f"/api/conversations/{cid}/messages"
                        stop_after = rng.randint(0, 40)
                        async with http.stream("POST", url, json={"prompt": f"n{i}"}) as response:
                            assert response.status_code == 200
                            seen = 0
                            async for _line in response.aiter_lines():
                                seen += 1
                                if seen >= stop_after:
                                    break  # the client goes away mid-stream
                        return str(cid)

                cids = await asyncio.gather(*(one(i) for i in range(HANG_UPS)))
                deadline = time.monotonic() + 60
                pending = set(cids)
                while pending and time.monotonic() < deadline:
                    for cid in list(pending):
                        items = (await http.get(f"/api/conversations/{cid}/messages")).json()
                        if items["items"][-1]["status"] != "generating":
                            pending.discard(cid)
                    await asyncio.sleep(0.1)
                for i, cid in enumerate(cids):
                    items = (await http.get(f"/api/conversations/{cid}/messages")).json()["items"]
                    assert items[-1]["status"] == "complete", items[-1]
                    # The list sends the reply's HTML: its text is the message's own route's.
                    url = f"/api/conversations/{cid}/messages/{items[-1]['id']}"
                    assert (await http.get(url)).json()["text"] == reply_to(f"n{i}")

        _run_async(hang_ups())


def test_reattach_mid_stream_gets_every_delta_exactly_once(database_url: str) -> None:
    agent = Echo(chunk=1, delay=0.01).agent()
    with (
        serve_in_thread(agent, database_url) as base,
        httpx.Client(base_url=base, trust_env=False, timeout=30) as client,
    ):
        _reattach_mid_stream(client)


def _reattach_mid_stream(client: httpx.Client) -> None:
    cid = client.post("/api/conversations", json={}).json()["id"]
    lines: list[str] = []
    with client.stream(
        "POST", f"/api/conversations/{cid}/messages", json={"prompt": "stream me"}
    ) as response:
        for line in response.iter_lines():
            lines.append(line)
            if sum(x.startswith("event: text") for x in lines) >= 5 and line == "":
                break
    first = parse_sse("\n".join(lines))
    run_id = first[1].data["run_id"]
    last_id = first[-1].id
    assert last_id is not None
    with client.stream(
        "GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(last_id)}
    ) as response:
        rest = parse_sse(response.read().decode())
    assert rest[0].id is not None
    assert rest[0].id > last_id
    text = "".join(f.data["d"] for f in [*first, *rest] if f.event == "text")
    assert text == reply_to("stream me")
    assert rest[-1].event == "done"


@pytest.mark.slow
def test_a_killed_server_leaves_the_reply_interrupted_and_takes_new_messages(
    serve: Callable[..., Server], database_url: str
) -> None:
    # A short staleness: on PostgreSQL, where other processes may share the database, the
    # restarted server marks only replies whose heartbeat stopped that long ago.
    runs = {"checkpoint_interval": 0.1, "run_stale_after": 1}
    server = serve("--agent", "tests.support.agents_for_cli:slow_agent", env=settings_env(**runs))
    received = ""
    with server.client() as client:
        cid = new_conversation(client)
        url = f"/api/conversations/{cid}/messages"
        with client.stream("POST", url, json={"prompt": "long story"}) as response:
            for frame in iter_frames(response.iter_lines()):
                if frame.event == "text":
                    received += frame.data["d"]
                if len(received) > 60:
                    break
        wait_until_saved(client, cid, received)  # past a checkpoint
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)

    # Started again: any server on the database will do, and one in a thread of this process
    # has no interpreter to start.
    with serve_in_thread(slow_agent, database_url, **runs) as base, http_client(base) as client:
        items = messages_of(client, cid)
        if not database_url.startswith("sqlite"):
            # Marked at start or by the reaper once the heartbeat is a second old; on SQLite,
            # one process per file, at start, before the server answers.
            deadline = time.monotonic() + 10
            while items[1]["status"] == "generating" and time.monotonic() < deadline:
                time.sleep(0.1)
                items = messages_of(client, cid)
        assert [m["status"] for m in items] == ["complete", "interrupted"]
        kept = texts_of(client, cid, items)[1]
        assert len(kept) >= len(received.strip())
        assert slow_reply().startswith(kept)
        assert items[1]["error"]
        with client.stream("POST", url, json={"prompt": "once more"}) as response:
            frames = parse_sse(response.read().decode())
        assert frames[-1].data["status"] == "complete"
