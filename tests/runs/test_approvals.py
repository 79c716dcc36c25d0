"""Tool calls the user approves: a reply pauses as `awaiting_approval` holding nothing in
memory, and the owner's answer (approve, deny with a reason, approve with edited arguments
checked against the tool's schema) resumes it as a new run on the same message; a new prompt
instead closes the call as not run. On both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ToolReturnPart

from parley.chat.approvals import NOT_RUN

from ..support.cli import migrate
from ..support.client import Frame, full_message, new_conversation, parse_sse, send
from ..support.files import binaries, png, send_files, uploaded
from ..support.models import approval_agent
from ..support.processes import Server, side_by_side

PROMPT = "Delete the old report"


def _agent(seen: list[list[ModelMessage]] | None = None) -> Agent[None, str]:
    return approval_agent(seen)


def _answer(
    client: TestClient, cid: str, mid: str, decisions: list[dict[str, Any]]
) -> tuple[int, list[Frame] | str]:
    url = f"/api/conversations/{cid}/messages/{mid}/approvals"
    with client.stream("POST", url, json={"decisions": decisions}) as response:
        body = response.read().decode()
        if response.status_code != 200:
            return response.status_code, body
        return 200, parse_sse(body)


def _paused(client: TestClient | httpx.Client) -> tuple[str, str, str]:
    """A conversation whose reply waits on one call: (conversation, reply, call id)."""
    cid = new_conversation(client)
    frames = send(client, cid, PROMPT)
    done = frames[-1]
    assert (done.event, done.data["status"]) == ("done", "awaiting_approval")
    assert any(f.event == "deferred" for f in frames)
    reply = full_message(client, cid, done.data["id"])
    assert reply["status"] == "awaiting_approval"
    call = next(p for p in reply["parts"] if p["type"] == "tool_call")
    assert call["approval"]["state"] == "pending"
    # The tool's schema, as the model was offered it: edited arguments are checked against it.
    assert call["approval"]["schema"]["properties"]["path"]["type"] == "string"
    return cid, reply["id"], call["tool_call_id"]


def _tool_result(message: dict[str, Any]) -> str:
    return str(next(p["content"] for p in message["parts"] if p["type"] == "tool_result"))


def test_approve_runs_the_tool_and_resumes_the_same_reply(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(_agent())
    cid, mid, call = _paused(client)
    status, frames = _answer(client, cid, mid, [{"tool_call_id": call, "approve": True}])
    assert status == 200 and isinstance(frames, list)
    start = next(f for f in frames if f.event == "start")
    assert start.data["message"]["id"] == mid
    assert frames[-1].data == frames[-1].data | {"id": mid, "status": "complete"}
    reply = full_message(client, cid, mid)
    assert reply["status"] == "complete"
    assert _tool_result(reply) == "deleted /tmp/report.txt"
    assert reply["text"].endswith("The tool said: deleted /tmp/report.txt")
    approval = next(p for p in reply["parts"] if p["type"] == "tool_call")["approval"]
    assert approval["state"] == "approved"
    assert approval["by"] == "local" and approval["at"]
    # One reply: the conversation still has two messages, and a next turn works.
    listed = client.get(f"/api/conversations/{cid}/messages").json()["items"]
    assert [m["id"] for m in listed][-1] == mid and len(listed) == 2
    assert send(client, cid, "thanks")[-1].data["status"] == "awaiting_approval"


def test_deny_with_a_reason_tells_the_model(make_client: Callable[..., TestClient]) -> None:
    client = make_client(_agent())
    cid, mid, call = _paused(client)
    decision = {"tool_call_id": call, "approve": False, "reason": "keep it, it is needed"}
    status, _ = _answer(client, cid, mid, [decision])
    assert status == 200
    reply = full_message(client, cid, mid)
    assert "keep it, it is needed" in _tool_result(reply)
    approval = next(p for p in reply["parts"] if p["type"] == "tool_call")["approval"]
    assert (approval["state"], approval["reason"]) == ("denied", "keep it, it is needed")


def test_edited_arguments_are_checked_then_used(make_client: Callable[..., TestClient]) -> None:
    client = make_client(_agent())
    cid, mid, call = _paused(client)
    bad = {"tool_call_id": call, "approve": True, "args": {"path": 42}}
    status, body = _answer(client, cid, mid, [bad])
    assert status == 422
    assert "path" in json.loads(str(body))["detail"]
    # Nothing changed: the reply still waits.
    assert full_message(client, cid, mid)["status"] == "awaiting_approval"
    good = {"tool_call_id": call, "approve": True, "args": {"path": "/tmp/b", "force": True}}
    status, _ = _answer(client, cid, mid, [good])
    assert status == 200
    reply = full_message(client, cid, mid)
    assert _tool_result(reply) == "deleted /tmp/b (forced)"
    approval = next(p for p in reply["parts"] if p["type"] == "tool_call")["approval"]
    assert json.loads(approval["args"]) == {"path": "/tmp/b", "force": True}


def test_a_second_answer_or_a_wrong_one_is_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(_agent())
    cid, mid, call = _paused(client)
    assert _answer(client, cid, mid, [{"tool_call_id": "nope", "approve": True}])[0] == 422
    assert _answer(client, cid, mid, [{"tool_call_id": call, "approve": True}])[0] == 200
    assert _answer(client, cid, mid, [{"tool_call_id": call, "approve": True}])[0] == 409
    assert _answer(client, "no-such-conversation", mid, [])[0] == 422  # no decisions
    missing = _answer(client, "no-such-conversation", mid, [{"tool_call_id": call, "approve": 1}])
    assert missing[0] == 404


def test_a_new_prompt_closes_the_call_as_not_run(make_client: Callable[..., TestClient]) -> None:
    seen: list[list[ModelMessage]] = []
    client = make_client(_agent(seen))
    cid, mid, call = _paused(client)
    frames = send(client, cid, "Never mind, what time is it?")
    assert frames[-1].event == "done"
    closed = full_message(client, cid, mid)
    assert closed["status"] == "complete"
    approval = next(p for p in closed["parts"] if p["type"] == "tool_call")["approval"]
    assert approval["state"] == "not_run"
    # The model was told, in the history of the new turn.
    told = [
        p.content
        for m in seen[-1]
        for p in getattr(m, "parts", [])
        if isinstance(p, ToolReturnPart) and p.tool_call_id == call
    ]
    assert told == [NOT_RUN]
    assert _answer(client, cid, mid, [{"tool_call_id": call, "approve": True}])[0] == 409


AGENT = ("--agent", "tests.support.agents_for_cli:approving_agent")


def _answer_over(client: httpx.Client, cid: str, mid: str, call: str) -> dict[str, Any]:
    url = f"/api/conversations/{cid}/messages/{mid}/approvals"
    decision = {"tool_call_id": call, "approve": True}
    with client.stream("POST", url, json={"decisions": [decision]}) as response:
        assert response.status_code == 200, response.read()
        frames = parse_sse(response.read().decode())
    done: dict[str, Any] = frames[-1].data
    return done


@pytest.mark.slow
def test_an_approval_waits_across_a_restart(serve: Callable[..., Server]) -> None:
    env = {"PARLEY_GENERATE_TITLES": "false"}
    first = serve(*AGENT, env=env)
    with first.client() as client:
        cid, mid, call = _paused(client)
    first.stop()
    with serve(*AGENT, env=env).client() as client:
        assert full_message(client, cid, mid)["status"] == "awaiting_approval"
        assert _answer_over(client, cid, mid, call)["status"] == "complete"
        assert _tool_result(full_message(client, cid, mid)) == "deleted /tmp/report.txt"


@pytest.mark.slow
def test_an_approval_is_answered_through_the_other_process(
    serve: Callable[..., Server], database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process")
    migrate(database_url)
    a, b = side_by_side(serve, 2, *AGENT, env={"PARLEY_GENERATE_TITLES": "false"})
    with a.client() as on_a, b.client() as on_b:
        cid, mid, call = _paused(on_a)
        assert _answer_over(on_b, cid, mid, call)["status"] == "complete"
        # Answered once, wherever: the other process finds nothing waiting.
        again = on_a.post(
            f"/api/conversations/{cid}/messages/{mid}/approvals",
            json={"decisions": [{"tool_call_id": call, "approve": True}]},
        )
        assert again.status_code == 409, again.text
        assert full_message(on_a, cid, mid)["status"] == "complete"


def test_a_resumed_reply_is_given_the_prompts_files(
    make_client: Callable[..., TestClient],
) -> None:
    seen: list[list[ModelMessage]] = []
    client = make_client(_agent(seen))
    image = png()
    cid = new_conversation(client)
    frames = send_files(client, cid, PROMPT, [uploaded(client, "report.png", image)])
    done = frames[-1].data
    assert done["status"] == "awaiting_approval"
    reply = full_message(client, cid, done["id"])
    call = next(p for p in reply["parts"] if p["type"] == "tool_call")["tool_call_id"]
    assert _answer(client, cid, done["id"], [{"tool_call_id": call, "approve": True}])[0] == 200
    # The resumed run got the image's bytes back, not the stored reference.
    assert [b.data for b in binaries(seen[-1])] == [image]
