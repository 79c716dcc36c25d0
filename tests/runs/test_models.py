"""Choosing the model and the instructions per conversation: the operator's catalog
(`GET /api/models`), `PATCH /api/conversations/{id}`, and what each model then receives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from parley.agents.catalog import build_catalog, describe
from parley.agents.local import LocalModel

from ..support.client import new_conversation, send, texts_of
from ..support.models import prompts_of


@dataclass
class Named:
    """A model that answers with its name, recording every history and instructions it gets;
    with `tool`, it first calls the agent's tool `lookup` and answers with its result."""

    name: str
    tool: bool = False
    calls: list[list[ModelMessage]] = field(default_factory=list)
    instructions: list[str | None] = field(default_factory=list)

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        self.calls.append(list(messages))
        self.instructions.append(info.instructions)
        returned = [
            p.content
            for p in messages[-1].parts
            if isinstance(messages[-1], ModelRequest) and isinstance(p, ToolReturnPart)
        ]
        if self.tool and not returned:
            yield {0: DeltaToolCall(name="lookup", json_args="{}", tool_call_id="call1")}
            return
        yield f"{self.name} answers" + (f" with {returned[0]}" if returned else "")

    def model(self) -> FunctionModel:
        return FunctionModel(stream_function=self.stream, model_name=self.name)


def _client(
    make_client: Callable[..., TestClient], first: Named, second: Named, **settings: object
) -> TestClient:
    agent = Agent(first.model())

    @agent.tool_plain
    def lookup() -> str:
        """Look the answer up."""
        return "the agent's tool"

    return make_client(
        agent, models=[("first", first.model()), ("second", second.model())], **settings
    )


def _choose(client: TestClient, cid: str, **body: object) -> dict[str, object]:
    response = client.patch(f"/api/conversations/{cid}", json=body)
    assert response.status_code == 200, response.text
    found: dict[str, object] = response.json()
    return found


def test_the_catalog_lists_the_configured_models_the_default_first(
    make_client: Callable[..., TestClient],
) -> None:
    client = _client(make_client, Named("first"), Named("second"))
    listed = client.get("/api/models").json()
    assert [m["id"] for m in listed] == ["first", "second"]
    # A FunctionModel has no price and no declared window: null, never 0.
    assert listed[0]["input_price"] is None and listed[0]["context_window"] is None
    # Its profile's file flags are Pydantic AI's defaults: assumed, not known.
    assert listed[0]["images"] and "images" in listed[0]["assumed"]


def test_switching_models_mid_conversation_sends_the_whole_history_to_the_new_one(
    make_client: Callable[..., TestClient],
) -> None:
    first, second = Named("first"), Named("second")
    client = _client(make_client, first, second)
    cid = new_conversation(client)
    assert send(client, cid, "one")[-1].data["model"] == "first"
    assert _choose(client, cid, model="second")["model"] == "second"
    done = send(client, cid, "two")[-1].data
    assert (done["status"], done["model"]) == ("complete", "second")
    assert prompts_of(second.calls[-1]) == ["one", "two"]
    assert len(first.calls) == 1
    # Each reply keeps the model that wrote it.
    items = client.get(f"/api/conversations/{cid}/messages").json()["items"]
    assert [m["model"] for m in items if m["role"] == "assistant"] == ["first", "second"]
    texts = texts_of(client, cid, items)
    replies = [t for m, t in zip(items, texts, strict=True) if m["role"] == "assistant"]
    assert replies == ["first answers", "second answers"]
    # Back to the default.
    assert _choose(client, cid, model=None)["model"] is None
    assert send(client, cid, "three")[-1].data["model"] == "first"


def test_the_agents_tools_still_run_under_the_chosen_model(
    make_client: Callable[..., TestClient],
) -> None:
    first, second = Named("first"), Named("second", tool=True)
    client = _client(make_client, first, second)
    cid = new_conversation(client)
    _choose(client, cid, model="second")
    frames = send(client, cid, "look it up")
    assert frames[-1].data["status"] == "complete"
    assert any(
        isinstance(p, ToolCallPart) and p.tool_name == "lookup"
        for m in second.calls[-1]
        for p in m.parts
    )
    items = client.get(f"/api/conversations/{cid}/messages").json()["items"]
    assert texts_of(client, cid, items)[-1] == "second answers with the agent's tool"


def test_the_conversations_instructions_come_after_the_operators(
    make_client: Callable[..., TestClient],
) -> None:
    first, second = Named("first"), Named("second")
    client = _client(make_client, first, second, instructions="Be brief.")
    cid = new_conversation(client)
    other = new_conversation(client)
    assert _choose(client, cid, instructions="  Answer in French.  ")["instructions"] == (
        "Answer in French."
    )
    send(client, cid, "hello")
    assert first.instructions[-1] == "Be brief.\n\nAnswer in French."
    send(client, other, "hello")
    assert first.instructions[-1] == "Be brief."
    # Emptied: none of the conversation's own.
    assert _choose(client, cid, instructions="")["instructions"] is None
    send(client, cid, "again")
    assert first.instructions[-1] == "Be brief."


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"model": "gpt-9"}, "no model 'gpt-9'"),
        ({"instructions": "x" * 20_001}, "at most 20000"),
        ({"instructions": "bad \x00 byte"}, "NUL"),
    ],
)
def test_a_bad_choice_is_a_422_and_changes_nothing(
    make_client: Callable[..., TestClient], body: dict[str, object], detail: str
) -> None:
    client = _client(make_client, Named("first"), Named("second"))
    cid = new_conversation(client)
    response = client.patch(f"/api/conversations/{cid}", json=body)
    assert response.status_code == 422
    assert detail in str(response.json()["detail"])
    conversation = client.get(f"/api/conversations/{cid}").json()
    assert (conversation["model"], conversation["instructions"]) == (None, None)


def test_without_a_list_the_one_choice_is_the_agents_own_model(
    make_client: Callable[..., TestClient],
) -> None:
    first = Named("first")
    client = make_client(Agent(first.model()))
    listed = client.get("/api/models").json()
    assert [m["id"] for m in listed] == ["function:first"]
    cid = new_conversation(client)
    assert send(client, cid, "hi")[-1].data["model"] == "function:first"


def test_a_local_model_declares_its_window_and_takes_no_files() -> None:
    local = LocalModel(Path("/nowhere/model.gguf"), n_ctx=4096)
    choice = describe("local:/nowhere/model.gguf", local)
    assert choice.public() == {
        "id": "local:/nowhere/model.gguf",
        "context_window": 4096,
        "images": False,
        "documents": False,
        "assumed": [],
        "input_price": None,
        "output_price": None,
    }
    assert build_catalog(Agent(local), [], "local:model").default.model is None
