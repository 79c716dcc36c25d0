"""Replies as a user lives them: history as context, tools, thinking, failures, disconnects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)

from parley.chat.history import read_history
from parley.chat.tree import load_tree

from ..support.client import new_conversation, parse_sse, saved_messages, send, texts_of
from ..support.models import Echo, Scripted, prompts_of, reply_to, tool_agent


def test_turn_n_sees_the_earlier_turns_of_its_own_conversation(
    make_client: Callable[..., TestClient],
) -> None:
    echo = Echo()
    client = make_client(echo.agent())
    a, b = new_conversation(client), new_conversation(client)
    for i in range(4):
        send(client, a, f"a{i}")
        send(client, b, f"b{i}")

    last_a = echo.calls[-2]
    assert prompts_of(last_a) == ["a0", "a1", "a2", "a3"]
    replies = [
        p.content
        for m in last_a
        if isinstance(m, ModelResponse)
        for p in m.parts
        if isinstance(p, TextPart)
    ]
    assert replies == [reply_to(f"a{i}") for i in range(3)]
    # Requests and responses alternate, in order, ending with the new prompt.
    kinds = [type(m).__name__ for m in last_a]
    assert kinds == ["ModelRequest", "ModelResponse"] * 3 + ["ModelRequest"]
    assert prompts_of(echo.calls[-1]) == ["b0", "b1", "b2", "b3"]


def test_history_survives_a_restart(make_client: Callable[..., TestClient]) -> None:
    echo = Echo()
    client = make_client(echo.agent())
    cid = new_conversation(client)
    send(client, cid, "remember me")
    client.__exit__(None, None, None)

    again = make_client(echo.agent())
    send(again, cid, "and now?")
    assert prompts_of(echo.calls[-1]) == ["remember me", "and now?"]


def test_instructions_reach_the_model(make_client: Callable[..., TestClient]) -> None:
    echo = Echo()
    client = make_client(echo.agent(), instructions="Answer like a pirate.")
    send(client, new_conversation(client), "hi")
    request = echo.calls[-1][-1]
    assert isinstance(request, ModelRequest)
    assert request.instructions is not None and "pirate" in request.instructions


def test_a_tool_calling_agent_lists_loads_and_continues(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(tool_agent())
    cid = new_conversation(client)

    frames = send(client, cid, "Weather in Paris?")
    events = [f.event for f in frames]
    assert events.index("thinking") < events.index("tool_call") < events.index("tool_result")
    assert events.index("tool_result") < events.index("text")
    call = next(f for f in frames if f.event == "tool_call").data
    assert call["tool_name"] == "temperature" and '"Paris"' in call["args"]
    result = next(f for f in frames if f.event == "tool_result").data
    assert result["content"] == "21 °C in Paris"
    assert frames[-1].data["status"] == "complete"

    # The example app returned 500 forever after a tool call; Parley loads and continues.
    assert client.get("/api/conversations").status_code == 200
    listed = client.get(f"/api/conversations/{cid}/messages")
    assert listed.status_code == 200
    assistant = listed.json()["items"][1]
    assert [p["type"] for p in assistant["parts"]] == [
        "thinking",
        "tool_call",
        "tool_result",
        "text",
    ]
    assert assistant["parts"][0]["text"] == "The user wants the weather. I'll call the tool."
    assert saved_messages(client, cid)[1]["text"] == "It is 21 °C in Paris."

    second = send(client, cid, "And tomorrow?")
    assert second[-1].data["status"] == "complete"
    listed = client.get(f"/api/conversations/{cid}/messages").json()["items"]
    assert len(listed) == 4


def test_tool_history_round_trips_through_the_store(
    make_client: Callable[..., TestClient],
) -> None:
    seen: list[list[ModelMessage]] = []
    agent = tool_agent()
    client = make_client(agent)
    cid = new_conversation(client)
    send(client, cid, "Weather in Paris?")

    echo = Echo()
    other = make_client(echo.agent())
    send(other, cid, "again")
    history = echo.calls[-1]
    seen.append(history)
    parts = [p for m in history for p in m.parts]
    assert any(isinstance(p, ToolCallPart) and p.tool_name == "temperature" for p in parts)
    assert any(isinstance(p, ToolReturnPart) and p.content == "21 °C in Paris" for p in parts)


def test_a_failing_model_keeps_the_partial_reply_and_recovers(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Scripted(["Half ", "an ", "answer"], fail_after=2).agent())
    cid = new_conversation(client)
    frames = send(client, cid, "go")
    events = [f.event for f in frames]
    assert events[-2:] == ["error", "done"]
    assert "the provider fell over" in frames[-2].data["detail"]
    assert frames[-1].data["status"] == "error"

    items = client.get(f"/api/conversations/{cid}/messages").json()["items"]
    assert items[1]["status"] == "error"
    assert texts_of(client, cid, items) == ["go", "Half an "]
    assert "the provider fell over" in items[1]["error"]

    # Nothing is stuck: the conversation takes the next message.
    again = send(client, cid, "retry")
    assert again[-1].event == "done"


def test_a_client_that_disconnects_leaves_the_reply_to_finish(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo(chunk=1, delay=0.005).agent())
    cid = new_conversation(client)
    with client.stream(
        "POST", f"/api/conversations/{cid}/messages", json={"prompt": "keep going"}
    ) as response:
        for line in response.iter_lines():
            if line.startswith("event: text"):
                break  # hang up after the first delta

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        items = client.get(f"/api/conversations/{cid}/messages").json()["items"]
        if items[-1]["status"] != "generating":
            break
        time.sleep(0.05)
    assert items[-1]["status"] == "complete"
    assert texts_of(client, cid, items)[-1] == reply_to("keep going")
    assert client.get("/api/conversations").status_code == 200


def test_one_reply_at_a_time_per_conversation(make_client: Callable[..., TestClient]) -> None:
    gate = asyncio.Event()
    client = make_client(Scripted(["a", "b"], gate=gate).agent())
    cid = new_conversation(client)
    url = f"/api/conversations/{cid}/messages"
    with client.stream("POST", url, json={"prompt": "first"}) as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("event: text"):
                break
        busy = client.post(url, json={"prompt": "second"})
        assert busy.status_code == 409
        assert "already being generated" in busy.json()["detail"]
        conversation = client.get(f"/api/conversations/{cid}").json()
        assert conversation["active_run_id"] is not None
        stop = client.post(f"/api/runs/{conversation['active_run_id']}/stop")
        assert stop.status_code == 202
        rest = parse_sse("\n".join(lines))
    assert rest[-1].data["status"] == "stopped"
    assert client.get(f"/api/conversations/{cid}").json()["active_run_id"] is None
    items = client.get(f"/api/conversations/{cid}/messages").json()["items"]
    assert [m["status"] for m in items] == ["complete", "stopped"]
    assert texts_of(client, cid, items) == ["first", "a"]


def test_the_cached_history_matches_the_database(make_client: Callable[..., TestClient]) -> None:
    client = make_client(tool_agent())
    cid = new_conversation(client)
    send(client, cid, "Weather in Paris?")
    send(client, cid, "And in Rome?")
    store = client.app.state.services.store  # type: ignore[attr-defined]
    leaf = client.get(f"/api/conversations/{cid}/messages").json()["items"][-1]["id"]
    cached = store.histories.get(cid, leaf)
    assert cached is not None
    assert len(cached) == 8  # per turn: prompt, tool call, tool return, answer

    async def from_database() -> list[ModelMessage]:
        async with store.engine.connect() as conn:
            tree = await load_tree(conn, cid)
            return await read_history(conn, tree.branch(leaf))

    assert client.portal.call(from_database) == cached  # type: ignore[union-attr]
