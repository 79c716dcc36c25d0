"""A reply's timings (runs/timings.py), as saved on the reply for the Inspect view: each model
request's start, time to first event and duration, each tool call's duration; kept however the
run ends (complete, failed, stopped, waiting for approval) and added to when it resumes;
bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.direct import model_request
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from parley.db.tables import messages
from parley.runs.timings import MAX_REQUESTS, MAX_TOOL_CALLS, Timings

from ..support.client import iter_frames, new_conversation, send
from ..support.databases import engine_on, run_in_thread
from ..support.models import answers_a_prompt, approval_agent

NAP = 0.2
THINK = 0.05


def _stored(database_url: str, message_id: str) -> tuple[dict[str, Any], list[ModelMessage]]:
    """The reply's stored timings and model messages, read from the database directly."""

    async def read() -> tuple[dict[str, Any], str]:
        async with engine_on(database_url) as engine, engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(messages.c.timings, messages.c.model_messages).where(
                        messages.c.id == message_id
                    )
                )
            ).one()
            return row.timings, row.model_messages

    timings, stored = run_in_thread(read())
    assert isinstance(timings, dict), timings
    return timings, ModelMessagesTypeAdapter.validate_json(stored)


def _napping_agent() -> Agent[None, str]:
    """Says a word, calls `nap` (which sleeps NAP s), then waits THINK s before answering."""

    async def stream(
        messages: list[ModelMessage], _info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        if answers_a_prompt(messages):
            yield "Let me rest. "
            yield {1: DeltaToolCall(name="nap", json_args='{"seconds": 0.2}')}
            return
        await asyncio.sleep(THINK)
        yield "Rested."

    agent = Agent(FunctionModel(stream_function=stream, model_name="napper"))

    @agent.tool_plain
    async def nap(seconds: float) -> str:
        """Sleep a while."""
        await asyncio.sleep(seconds)
        return "slept"

    return agent


def test_each_request_and_tool_call_of_a_reply_is_timed(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(_napping_agent())
    cid = new_conversation(client)
    before = datetime.now().astimezone()
    done = send(client, cid, "rest a bit")[-1]
    assert done.data["status"] == "complete"
    timings, reply = _stored(database_url, done.data["id"])

    first, second = timings["requests"]
    for request in (first, second):
        assert request["outcome"] == "complete" and request["streamed"] is True
        assert request["model"] == "napper"
        assert 0 <= request["first_token_ms"] <= request["duration_ms"]
        assert datetime.fromisoformat(request["started_at"]) >= before
    # The second request waited THINK s before its first event.
    assert second["first_token_ms"] >= THINK * 1000
    assert datetime.fromisoformat(second["started_at"]) > datetime.fromisoformat(
        first["started_at"]
    )
    # Each timing names its response, by the response's timestamp.
    responses = [m for m in reply if isinstance(m, ModelResponse)]
    assert [datetime.fromisoformat(r["response_at"]) for r in (first, second)] == [
        r.timestamp for r in responses
    ]

    (call,) = [p for r in responses for p in r.parts if isinstance(p, ToolCallPart)]
    (tool,) = timings["tool_calls"]
    assert (tool["id"], tool["name"], tool["run"]) == (call.tool_call_id, "nap", 0)
    assert NAP * 1000 <= tool["duration_ms"] < NAP * 1000 + 2000
    (run,) = timings["runs"]
    assert run["status"] == "complete" and run["duration_ms"] >= tool["duration_ms"]


def test_a_failed_request_is_timed_with_its_error(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    async def stream(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        await asyncio.sleep(THINK)
        raise RuntimeError("the provider fell over")
        yield "never"

    client = make_client(Agent(FunctionModel(stream_function=stream, model_name="falls")))
    done = send(client, new_conversation(client), "hello")[-1]
    assert done.data["status"] == "error"
    timings, _ = _stored(database_url, done.data["id"])
    (request,) = timings["requests"]
    assert (request["outcome"], request["error"]) == ("error", "RuntimeError")
    assert "first_token_ms" not in request  # nothing came
    assert request["duration_ms"] >= THINK * 1000
    assert timings["runs"][0]["status"] == "error"


def test_a_stopped_reply_keeps_its_timings(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    async def stream(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        yield "Partial "
        await asyncio.sleep(3600)
        yield "never"

    client = make_client(Agent(FunctionModel(stream_function=stream, model_name="stalls")))
    cid = new_conversation(client)
    run_id = reply_id = ""
    with client.stream(
        "POST", f"/api/conversations/{cid}/messages", json={"prompt": "go"}
    ) as response:
        for frame in iter_frames(response.iter_lines()):
            if frame.event == "start":
                run_id, reply_id = frame.data["run_id"], frame.data["message"]["id"]
            if frame.event == "text":
                break
    time.sleep(0.1)
    assert client.post(f"/api/runs/{run_id}/stop").status_code == 202
    deadline = time.monotonic() + 15
    while client.get(f"/api/conversations/{cid}/messages/{reply_id}").json()["status"] == (
        "generating"
    ):
        assert time.monotonic() < deadline, "the stopped reply was never saved"
        time.sleep(0.02)
    timings, _ = _stored(database_url, reply_id)
    (request,) = timings["requests"]
    assert request["outcome"] == "cancelled"
    assert request["first_token_ms"] <= request["duration_ms"]
    assert request["duration_ms"] >= 100
    assert timings["runs"][0]["status"] == "stopped"


def test_a_resumed_reply_adds_its_run_to_the_timings(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(approval_agent())
    cid = new_conversation(client)
    paused = send(client, cid, "Delete the old report")[-1]
    assert paused.data["status"] == "awaiting_approval"
    mid = paused.data["id"]
    timings, reply = _stored(database_url, mid)
    assert [r["status"] for r in timings["runs"]] == ["awaiting_approval"]
    (waiting,) = timings["tool_calls"]
    assert waiting["name"] == "delete_file" and "duration_ms" not in waiting

    url = f"/api/conversations/{cid}/messages/{mid}/approvals"
    with client.stream(
        "POST", url, json={"decisions": [{"tool_call_id": waiting["id"], "approve": True}]}
    ) as response:
        assert response.status_code == 200
        response.read()
    timings, reply = _stored(database_url, mid)
    assert [r["status"] for r in timings["runs"]] == ["awaiting_approval", "complete"]
    assert [r["run"] for r in timings["requests"]] == [0, 1]
    ran = timings["tool_calls"][-1]
    assert (ran["id"], ran["run"]) == (waiting["id"], 1)
    assert ran["duration_ms"] >= 0
    returns = [p for m in reply if isinstance(m, ModelRequest) for p in m.parts]
    assert any(isinstance(p, ToolReturnPart) for p in returns)


def test_a_request_made_without_streaming_is_timed() -> None:
    async def answer(_messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        await asyncio.sleep(THINK)
        return ModelResponse(parts=[], model_name="plain")

    timings = Timings()
    model = timings.model(FunctionModel(answer, model_name="plain"))
    response = asyncio.run(model_request(model, [ModelRequest.user_text_prompt("hi")]))
    (request,) = timings.dump("complete")["requests"]
    assert request["streamed"] is False and "first_token_ms" not in request
    assert request["duration_ms"] >= THINK * 1000
    assert datetime.fromisoformat(request["response_at"]) == response.timestamp


def test_timings_are_bounded() -> None:
    timings = Timings()
    for _ in range(MAX_REQUESTS + 50):
        key = timings.request_started(streamed=True)
        timings.request_ended(key, outcome="complete")
    for i in range(MAX_TOOL_CALLS + 100):
        call = ToolCallPart("tool", {}, tool_call_id=f"call{i}")
        timings.observe(FunctionToolCallEvent(call))
        timings.observe(
            FunctionToolResultEvent(ToolReturnPart("tool", "ok", tool_call_id=f"call{i}"))
        )
    stored = timings.dump("complete")
    assert (len(stored["requests"]), stored["dropped_requests"]) == (MAX_REQUESTS, 50)
    assert (len(stored["tool_calls"]), stored["dropped_tool_calls"]) == (MAX_TOOL_CALLS, 100)

    # A resumed reply starts from what is stored, bounds and all.
    again = Timings(stored)
    again.observe(FunctionToolCallEvent(ToolCallPart("tool", {}, tool_call_id="late")))
    assert again.run == 1
    resumed = again.dump("complete")
    assert len(resumed["tool_calls"]) == MAX_TOOL_CALLS
    assert resumed["dropped_tool_calls"] == 101
