"""Titles: written by the conversation's model after the first reply, once, never over the
user's, and never at the reply's expense."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from parley.runs.titles import INSTRUCTIONS, MAX_TITLE_TOKENS, tidy

from ..support.client import new_conversation, send, texts_of


@dataclass
class Titled:
    """Replies by streaming; answers the (non-streamed) title request with `title`, or fails."""

    title: str = "Boiling Eggs Perfectly."
    fail: bool = False
    gate: asyncio.Event | None = None
    title_calls: list[tuple[list[ModelMessage], Any]] = field(default_factory=list)

    async def stream(self, _messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        yield "Seven minutes, then cold water."

    async def name(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.title_calls.append((messages, info.model_settings))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("the title request fell over")
        return ModelResponse(parts=[TextPart(self.title)])

    def agent(self) -> Agent[None, str]:
        return Agent(FunctionModel(self.name, stream_function=self.stream, model_name="titled"))


def _conversation(client: TestClient, cid: str) -> dict[str, Any]:
    conversation: dict[str, Any] = client.get(f"/api/conversations/{cid}").json()
    return conversation


def _wait_for(client: TestClient, cid: str, source: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (conversation := _conversation(client, cid))["title_source"] != source:
        assert time.monotonic() < deadline, conversation
        time.sleep(0.02)
    return conversation


def test_the_model_titles_a_conversation_once_after_its_first_reply(
    make_client: Callable[..., TestClient],
) -> None:
    model = Titled()
    client = make_client(model.agent())
    cid = new_conversation(client)
    assert _conversation(client, cid)["title_source"] == "default"
    frames = send(client, cid, "How long should I boil an egg for a soft yolk?")
    assert frames[-1].data["status"] == "complete"

    titled = _wait_for(client, cid, "model")
    assert titled["title"] == "Boiling Eggs Perfectly"
    assert len(model.title_calls) == 1
    messages, settings = model.title_calls[0]
    assert settings["max_tokens"] == MAX_TITLE_TOKENS
    request = messages[-1]
    assert getattr(request, "instructions", None) == INSTRUCTIONS
    assert "soft yolk" in str(request)
    # The sidebar's list shows it too.
    listed = client.get("/api/conversations").json()["items"]
    assert listed[0]["title"] == "Boiling Eggs Perfectly"

    send(client, cid, "And a hard one?")
    time.sleep(0.2)
    assert len(model.title_calls) == 1
    assert _conversation(client, cid)["title"] == "Boiling Eggs Perfectly"


def test_a_title_the_user_set_is_never_replaced(make_client: Callable[..., TestClient]) -> None:
    model = Titled()
    client = make_client(model.agent())
    named = client.post("/api/conversations", json={"title": "Eggs"}).json()["id"]
    send(client, named, "How long should I boil an egg?")
    time.sleep(0.2)
    assert _conversation(client, named)["title"] == "Eggs"
    assert model.title_calls == []

    # Renamed while the title is being written: the rename wins.
    model.gate = asyncio.Event()
    cid = new_conversation(client)
    send(client, cid, "Another question")
    deadline = time.monotonic() + 10
    while not model.title_calls:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    renamed = client.patch(f"/api/conversations/{cid}", json={"title": "Mine"}).json()
    assert renamed["title_source"] == "user"
    client.portal.call(model.gate.set)  # type: ignore[union-attr]
    time.sleep(0.2)
    assert _conversation(client, cid)["title"] == "Mine"


def test_a_failing_or_slow_title_request_leaves_the_reply_alone(
    make_client: Callable[..., TestClient],
) -> None:
    model = Titled(fail=True, gate=asyncio.Event())
    client = make_client(model.agent())
    cid = new_conversation(client)
    # The title request hangs on its gate: the reply still ends (`done`, stream closed).
    frames = send(client, cid, "What is a soft yolk?\nSecond line")
    assert frames[-1].event == "done" and frames[-1].data["status"] == "complete"
    client.portal.call(model.gate.set)  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while len(model.title_calls) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)
    conversation = _conversation(client, cid)
    assert conversation["title"] == "What is a soft yolk?"
    assert conversation["title_source"] == "prompt"
    items = client.get(f"/api/conversations/{cid}/messages").json()["items"]
    assert [m["status"] for m in items] == ["complete", "complete"]
    assert texts_of(client, cid, items)[1] == "Seven minutes, then cold water."


def test_titles_can_be_turned_off(make_client: Callable[..., TestClient]) -> None:
    model = Titled()
    client = make_client(model.agent(), generate_titles=False)
    cid = new_conversation(client)
    send(client, cid, "Hello there")
    time.sleep(0.2)
    assert model.title_calls == []
    assert _conversation(client, cid)["title"] == "Hello there"


def test_whatever_the_model_answers_becomes_one_clean_line() -> None:
    assert tidy('"Boiling Eggs."') == "Boiling Eggs"
    assert tidy("## **Title: Soft yolks**\nMore text") == "Soft yolks"
    assert tidy("\n\n  Eggs  \n") == "Eggs"
    assert tidy("x" * 300) == "x" * 79 + "…"
    assert tidy("a\ud83dmoon\x00") == "a\ufffdmoon"
    assert tidy("  \n ... \n") is None
    assert tidy("") is None
