"""Long conversations inside the context window: the newest whole turns that fit are sent,
the rest stays stored, and the API says where what is sent begins."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from pydantic_ai import Agent, ModelRetry
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import (
    AgentInfo,
    DeltaThinkingCalls,
    DeltaThinkingPart,
    DeltaToolCall,
    DeltaToolCalls,
    FunctionModel,
)

from parley.chat.context import CHARS_PER_TOKEN, Window, tokens, window
from parley.db.tables import messages

from ..support.client import new_conversation, saved_messages, send
from ..support.databases import engine_on, run_in_thread
from ..support.models import prompts_of
from ..support.seed import seed_conversation

WINDOW = 2_500  # tokens
RESERVE = 400  # PARLEY_MAX_OUTPUT_TOKENS: room kept for the reply
INSTRUCTIONS = "Answer briefly."


@dataclass
class ToolUser:
    """Thinks, calls `lookup` with a bad argument (a retry), then a good one, then answers;
    records what it receives."""

    calls: list[list[ModelMessage]] = field(default_factory=list)
    instructions: list[str | None] = field(default_factory=list)

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls | DeltaThinkingCalls]:
        last = messages[-1]
        parts = last.parts if isinstance(last, ModelRequest) else []
        if any(isinstance(p, UserPromptPart) for p in parts):
            self.calls.append(list(messages))
            self.instructions.append(info.instructions)
            yield {0: DeltaThinkingPart(content="Let me look that up.")}
            yield {1: DeltaToolCall(name="lookup", json_args='{"key": "bad"}', tool_call_id="a")}
        elif any(isinstance(p, RetryPromptPart) for p in parts):
            yield {0: DeltaToolCall(name="lookup", json_args='{"key": "good"}', tool_call_id="b")}
        else:
            yield "Found it: " + "details " * 200

    def agent(self) -> Agent[None, str]:
        agent = Agent(FunctionModel(stream_function=self.stream, model_name="tooluser"))

        @agent.tool_plain
        def lookup(key: str) -> str:
            """Look something up."""
            if key != "good":
                raise ModelRetry("Use the key 'good'.")
            return "the value " * 20

        return agent


def _sent_history(received: list[ModelMessage]) -> list[ModelMessage]:
    """What the model received before the new prompt (the last request)."""
    return received[:-1]


def test_a_long_conversation_sends_the_newest_whole_turns_that_fit(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A FunctionModel's input_tokens counts its requests' own parts, not the earlier replies:
    # as a provider's count it would say any branch fits. This test is about the cut, made by
    # the estimate (the provider's count has its own test below).
    async def never(*_args: object) -> bool:
        return False

    monkeypatch.setattr("parley.chat.context._fits_by_provider_count", never)
    model = ToolUser()
    client = make_client(
        model.agent(),
        context_tokens=WINDOW,
        max_output_tokens=RESERVE,
        instructions=INSTRUCTIONS,
        generate_titles=False,
    )
    cid = new_conversation(client)
    prompts = [f"question {i}: " + "word " * 40 for i in range(12)]
    for prompt in prompts:
        assert send(client, cid, prompt)[-1].data["status"] == "complete"

    received = model.calls[-1]
    history = _sent_history(received)
    # Cut: not every earlier turn is sent, but the newest ones are, in order.
    sent_prompts = prompts_of(received)
    assert 1 <= len(sent_prompts) < len(prompts)
    assert sent_prompts == prompts[-len(sent_prompts) :]
    # What is sent starts with a prompt, and fits the window with the new prompt and room for
    # the reply (sizes as Parley estimates them: stored JSON, four characters a token).
    first = history[0]
    assert isinstance(first, ModelRequest)
    assert any(isinstance(p, UserPromptPart) for p in first.parts)
    size = len(ModelMessagesTypeAdapter.dump_json(history))
    assert tokens(size) + RESERVE <= WINDOW
    # Every tool call sent has its result (or its retry) sent too, and the other way round.
    calls = {
        p.tool_call_id
        for m in history
        if isinstance(m, ModelResponse)
        for p in m.parts
        if isinstance(p, ToolCallPart)
    }
    answers = {
        p.tool_call_id
        for m in history
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart | RetryPromptPart)
    }
    assert calls and calls == answers
    # The instructions are always sent.
    assert model.instructions[-1] == INSTRUCTIONS

    # The API says where what the next turn sends begins; the stored history is intact.
    page = client.get(f"/api/conversations/{cid}/messages", params={"limit": 500}).json()
    start = page["context_start_id"]
    assert start is not None
    ids = [m["id"] for m in page["items"]]
    assert len(ids) == 2 * len(prompts)
    marked = page["items"][ids.index(start)]
    assert marked["role"] == "user"
    send(client, cid, "one more")
    next_prompts = prompts_of(model.calls[-1])
    stored = {m["id"]: m for m in saved_messages(client, cid)}
    assert next_prompts[0] == stored[start]["text"]
    assert [m["text"] for m in saved_messages(client, cid) if m["role"] == "user"] == [
        *prompts,
        "one more",
    ]


def test_a_short_conversation_is_sent_whole_and_has_no_marker(
    make_client: Callable[..., TestClient],
) -> None:
    model = ToolUser()
    client = make_client(model.agent(), context_tokens=10 * WINDOW, max_output_tokens=RESERVE)
    cid = new_conversation(client)
    send(client, cid, "hello")
    send(client, cid, "again")
    assert prompts_of(model.calls[-1]) == ["hello", "again"]
    page = client.get(f"/api/conversations/{cid}/messages").json()
    assert (page["context_start_id"], page["context_empty"]) == (None, False)


def test_a_prompt_bigger_than_the_window_is_sent_alone(
    make_client: Callable[..., TestClient],
) -> None:
    model = ToolUser()
    client = make_client(model.agent(), context_tokens=WINDOW, max_output_tokens=RESERVE)
    cid = new_conversation(client)
    send(client, cid, "hello")
    huge = "x " * (WINDOW * CHARS_PER_TOKEN)
    send(client, cid, huge)
    received = model.calls[-1]
    # No room for any earlier turn: the prompt alone, never a reply without its prompt.
    assert prompts_of(received) == [huge]
    assert isinstance(received[0], ModelRequest)
    assert json.loads(ModelMessagesTypeAdapter.dump_json(received))[0]["kind"] == "request"
    # Next turn, not even the last turn fits: the API says none of the history is sent.
    page = client.get(f"/api/conversations/{cid}/messages").json()
    assert (page["context_start_id"], page["context_empty"]) == (None, True)


def test_the_providers_count_of_the_last_reply_decides_whether_the_branch_fits(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    make_client(ToolUser().agent())  # the app migrates the database
    cid, ids = seed_conversation(database_url, 8, text=lambda i: "word " * 100, model_messages=True)
    leaf = ids[-1]

    async def sent(usage: Mapping[str, object] | None, budget: int) -> Window:
        async with engine_on(database_url) as engine, engine.begin() as conn:
            await conn.execute(messages.update().where(messages.c.id == leaf).values(usage=usage))
            return await window(conn, leaf, budget)

    # By the stored JSON the eight messages (~1,600 tokens) do not fit 600 tokens...
    estimated = run_in_thread(sent(None, 600))
    assert estimated.start is not None and len(estimated.path) < len(ids)
    # ...by the provider's count of the last reply's input (here 200 tokens) they do.
    counted = run_in_thread(sent({"input_tokens": 200, "output_tokens": 20}, 600))
    assert (counted.path, counted.start) == (ids, None)
    # Unless that reply itself was sent a cut history: its count is not the branch's.
    cut = {"input_tokens": 200, "output_tokens": 20, "context_cut": True}
    assert run_in_thread(sent(cut, 600)) == estimated
    assert cid
