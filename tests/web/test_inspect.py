"""`GET /api/conversations/{id}/messages/{message_id}/inspect`: a reply as a developer debugging
an agent sees it (chat/inspect.py): model, instructions and system prompt, each request timed,
tool calls with arguments, results and durations, usage, and the turn's Pydantic AI messages;
the owner's replies only; a reply saved before timings were recorded still inspected."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from parley.accounts.store import Accounts
from parley.chat.inspect import DISPLAY_CHARS
from parley.db.tables import messages

from ..support.client import new_conversation, send
from ..support.databases import engine_on, run_in_thread
from ..support.models import answers_a_prompt, payload_agent

SYSTEM = "You are a weather station."
AGENT_INSTRUCTIONS = "Answer in one line."


def _weather_agent() -> Agent[None, str]:
    """Calls `temperature` for Paris, then answers with what it said."""

    async def stream(
        messages: list[ModelMessage], _info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        if answers_a_prompt(messages):
            yield {0: DeltaToolCall(name="temperature", json_args='{"city": "Paris"}')}
            return
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        said = [p.content for p in last.parts if isinstance(p, ToolReturnPart)]
        yield f"It is {said[0]}."

    agent = Agent(
        FunctionModel(stream_function=stream, model_name="station"),
        system_prompt=SYSTEM,
        instructions=AGENT_INSTRUCTIONS,
    )

    @agent.tool_plain
    def temperature(city: str) -> str:
        """The temperature in a city."""
        return f"21 °C in {city}"

    return agent


def _inspect(client: TestClient, cid: str, mid: str, **kwargs: Any) -> Any:
    response = client.get(f"/api/conversations/{cid}/messages/{mid}/inspect", **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def test_inspect_shows_the_model_instructions_requests_tools_usage_and_messages(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(_weather_agent(), instructions="Be kind.")
    cid = new_conversation(client)
    patched = client.patch(f"/api/conversations/{cid}", json={"instructions": "Use Celsius."})
    assert patched.status_code == 200
    done = send(client, cid, "How warm is Paris?")[-1]
    assert done.data["status"] == "complete"
    seen = _inspect(client, cid, done.data["id"])

    assert seen["message_id"] == done.data["id"] and seen["status"] == "complete"
    assert seen["model"] == done.data["model"]
    assert seen["response_models"] == ["station"]
    # The agent's instructions, the operator's and the conversation's: what the model was sent.
    (instructions,) = seen["instructions"]
    for part in (AGENT_INSTRUCTIONS, "Be kind.", "Use Celsius."):
        assert part in instructions
    assert seen["system_prompts"] == [SYSTEM]

    assert seen["timings_recorded"] is True
    assert [r["status"] for r in seen["runs"]] == ["complete"]
    first, second = seen["requests"]
    assert [first["number"], second["number"]] == [1, 2]
    for request in (first, second):
        assert request["model"] == "station" and request["outcome"] == "complete"
        assert 0 <= request["first_token_ms"] <= request["duration_ms"]
        assert request["input_tokens"] > 0 and request["output_tokens"] > 0

    (call,) = seen["tool_calls"]
    assert call["name"] == "temperature"
    assert json.loads(call["args"]) == {"city": "Paris"} and call["args_truncated"] is False
    assert call["result"] == "21 °C in Paris" and call["outcome"] == "success"
    assert call["duration_ms"] >= 0 and call["native"] is False

    usage = seen["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (
        done.data["usage"]["input_tokens"],
        done.data["usage"]["output_tokens"],
    )
    assert usage["input_tokens"] == first["input_tokens"] + second["input_tokens"]
    assert (usage["requests"], usage["tool_calls"]) == (2, 1)

    # The turn's own messages: the prompt's request, then the run's, as Pydantic AI loads them.
    turn = ModelMessagesTypeAdapter.validate_python(seen["messages"])
    assert [type(m) for m in turn] == [ModelRequest, ModelResponse, ModelRequest, ModelResponse]
    prompt = [p for p in turn[0].parts if isinstance(p, UserPromptPart)]
    assert [p.content for p in prompt] == ["How warm is Paris?"]
    assert seen["messages_error"] is None

    # A later turn was sent the system prompt the conversation began with.
    later = send(client, cid, "And tomorrow?")[-1]
    again = _inspect(client, cid, later.data["id"])
    assert again["system_prompts"] == [SYSTEM]
    assert len(ModelMessagesTypeAdapter.validate_python(again["messages"])) == 4


def test_long_arguments_and_results_are_cut_for_display_only(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(payload_agent())
    cid = new_conversation(client)
    text = "x" * (DISPLAY_CHARS * 2)
    done = send(client, cid, text)[-1]
    seen = _inspect(client, cid, done.data["id"])
    (call,) = seen["tool_calls"]
    assert call["args_truncated"] is True and len(call["args"]) == DISPLAY_CHARS
    assert len(text) < call["args_chars"] < len(text) + 20
    assert call["result_truncated"] is True and len(call["result"]) == DISPLAY_CHARS
    assert call["result_chars"] == len(text)
    turn = ModelMessagesTypeAdapter.validate_python(seen["messages"])
    returns = [p for m in turn if isinstance(m, ModelRequest) for p in m.parts]
    assert any(isinstance(p, ToolReturnPart) and p.content == text for p in returns)


def test_a_reply_saved_before_timings_shows_all_but_the_times(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(_weather_agent())
    cid = new_conversation(client)
    mid = send(client, cid, "How warm is Paris?")[-1].data["id"]

    async def forget() -> None:
        async with engine_on(database_url) as engine, engine.begin() as conn:
            await conn.execute(
                sa.update(messages).where(messages.c.id == mid).values(timings=sa.null())
            )

    run_in_thread(forget())
    seen = _inspect(client, cid, mid)
    assert seen["timings_recorded"] is False and seen["runs"] == []
    assert [r["number"] for r in seen["requests"]] == [1, 2]
    for request in seen["requests"]:
        assert request["first_token_ms"] is None and request["duration_ms"] is None
        assert request["model"] == "station" and request["input_tokens"] > 0
    (call,) = seen["tool_calls"]
    assert call["result"] == "21 °C in Paris" and call["duration_ms"] is None
    assert seen["usage"]["requests"] == 2


def test_only_the_owners_replies_can_be_inspected(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(_weather_agent(), auth="accounts")
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    headers: dict[str, dict[str, str]] = {}
    for name in ("alice", "bob"):
        user = client.portal.call(accounts.add_user, name, "correct horse battery")  # type: ignore[union-attr]
        _, secret = client.portal.call(accounts.create_token, user, "tests")  # type: ignore[union-attr]
        headers[name] = {"Authorization": f"Bearer {secret}"}
    alice = headers["alice"]
    cid = client.post("/api/conversations", json={}, headers=alice).json()["id"]
    with client.stream(
        "POST", f"/api/conversations/{cid}/messages", json={"prompt": "hi"}, headers=alice
    ) as response:
        response.read()
    items = client.get(f"/api/conversations/{cid}/messages", headers=alice).json()["items"]
    prompt, reply = items[0]["id"], items[-1]["id"]
    url = f"/api/conversations/{cid}/messages/{{}}/inspect"

    assert client.get(url.format(reply), headers=alice).status_code == 200
    assert client.get(url.format(reply)).status_code == 401
    # Another owner's reply, a prompt, an id from nowhere: all the same 404.
    refused = client.get(url.format(reply), headers=headers["bob"])
    assert (refused.status_code, refused.json()) == (404, {"detail": "No such reply."})
    assert client.get(url.format(prompt), headers=alice).status_code == 404
    assert client.get(url.format("0" * 32), headers=alice).status_code == 404
    elsewhere = client.post("/api/conversations", json={}, headers=alice).json()["id"]
    wrong = f"/api/conversations/{elsewhere}/messages/{reply}/inspect"
    assert client.get(wrong, headers=alice).status_code == 404
