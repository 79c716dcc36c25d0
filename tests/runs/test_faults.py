"""Replies that go wrong in ways no client can be blamed for, and must still end cleanly.

A provider may stream text that is not valid Unicode (half a surrogate pair per chunk, a lone
surrogate in a tool name) or that one database cannot store (NUL on PostgreSQL), and saving the
reply may fail outright. Whatever happens, the reply must end (`done`, never stuck
`generating`), what is saved must be storable text, and the conversation must take the next
prompt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic_ai import Agent, Tool
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ThinkingPart,
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

from parley.chat.store import Store

from ..support.client import (
    Client,
    Frame,
    full_message,
    new_conversation,
    parse_sse,
    saved_messages,
    send,
)
from ..support.fake_openai import SplitSurrogatesOpenAI, reply_to
from ..support.processes import Server

Delta = str | DeltaToolCalls | DeltaThinkingCalls

FIRST = "first prompt"
AFTER = "fine"  # what the model answers to anything after the first prompt
SMILE = "\U0001f600"


def is_unicode(value: Any, *, nul: bool = True) -> bool:
    """True if every string in a JSON-like value is valid Unicode (encodable as UTF-8), and,
    unless `nul`, holds no NUL."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return nul or "\x00" not in value
    if isinstance(value, list):
        return all(is_unicode(v, nul=nul) for v in value)
    if isinstance(value, dict):
        return all(is_unicode(k, nul=nul) and is_unicode(v, nul=nul) for k, v in value.items())
    return True


def is_storable(value: Any) -> bool:
    """True if every string in a JSON-like value is valid Unicode without NUL: text every
    database stores the same (what Parley shows and saves as text)."""
    return is_unicode(value, nul=False)


def strings_of(messages: list[ModelMessage]) -> list[str]:
    """Every text a model history carries: prompts, replies, thinking, tool names and results."""
    out: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPromptPart | TextPart | ThinkingPart) and isinstance(
                part.content, str
            ):
                out.append(part.content)
            elif isinstance(part, ToolCallPart):
                out += [part.tool_name, part.args_as_json_str()]
            elif isinstance(part, ToolReturnPart):
                out += [part.tool_name, part.model_response_str()]
            elif isinstance(part, RetryPromptPart):
                out += [part.tool_name or "", part.model_response()]
    return out


@dataclass
class Scripted:
    """Answers the first prompt with `script` (then, after any tool result, with `after_tool`);
    anything later with AFTER. Records the history of every call."""

    script: list[Delta]
    after_tool: list[Delta] = field(default_factory=lambda: ["tool done"])
    calls: list[list[ModelMessage]] = field(default_factory=list)

    async def stream(self, messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[Delta]:
        self.calls.append(list(messages))
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        if any(isinstance(p, ToolReturnPart | RetryPromptPart) for p in last.parts):
            deltas = self.after_tool
        elif any(isinstance(p, UserPromptPart) and p.content == FIRST for p in last.parts):
            deltas = self.script
        else:
            deltas = [AFTER]
        for delta in deltas:
            yield delta

    def agent(self, tools: list[Tool[None]] | None = None) -> Agent[None, str]:
        model = FunctionModel(stream_function=self.stream, model_name="scripted")
        return Agent(model, tools=tools or [])


def items_of(client: Client, cid: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/conversations/{cid}/messages")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def streamed(frames: list[Frame], event: str = "text") -> str:
    return "".join(f.data["d"] for f in frames if f.event == event)


def shown_parts(message: dict[str, Any]) -> list[tuple[str, str]]:
    """A saved message's parts (from `full_message`) as (type, text): a text or thinking part's
    text, a tool result's content, a tool call's nothing."""

    def text(part: dict[str, Any]) -> str:
        kind = part["type"]
        if kind == "tool_call":
            return ""
        return str(part["content"] if kind == "tool_result" else part["text"])

    return [(p["type"], text(p)) for p in message["parts"]]


def assert_next_prompt_works(client: Client, cid: str) -> None:
    """The conversation is not stuck: the next prompt is a 200 and gets its reply."""
    frames = send(client, cid, "next prompt")
    assert (frames[-1].event, frames[-1].data["status"]) == ("done", "complete"), frames
    assert streamed(frames) == AFTER
    assert [m["status"] for m in items_of(client, cid)][-2:] == ["complete", "complete"]


def first_turn(client: TestClient) -> tuple[str, list[Frame], dict[str, Any]]:
    """Send FIRST in a new conversation: its id, the frames, and the saved assistant message
    with all its text."""
    cid = new_conversation(client)
    frames = send(client, cid, FIRST)
    assert frames[-1].event == "done", frames
    user, assistant = items_of(client, cid)
    assert user["text"] == FIRST
    assert assistant["id"] == frames[-1].data["id"]
    return cid, frames, full_message(client, cid, assistant["id"])


def assert_export_is_unicode(client: TestClient, cid: str) -> None:
    """The saved model messages read back (export loads each message's Pydantic AI JSON), all
    valid Unicode. (They may hold NUL: in that JSON it is the escape `\\u0000`, plain ASCII,
    which every database stores.)"""
    exported = client.get(f"/api/conversations/{cid}/export")
    assert exported.status_code == 200, exported.text
    document = exported.json()
    assert is_unicode(document)
    assert is_storable(
        [
            {k: v for k, v in m.items() if k != "model_messages"}
            for m in document["conversations"][0]["messages"]
        ]
    )


# -- 7: a surrogate pair cut in half by the stream ------------------------------------------------

HALVES: dict[str, tuple[list[Delta], set[str]]] = {
    # The two halves of one emoji in consecutive chunks: joined again.
    "split-pair": (["Hi \ud83d", "\ude00 there"], {f"Hi {SMILE} there"}),
    "split-pair-alone": (["\ud83d", "\ude00"], {SMILE}),
    # Halves that never meet: replaced (or, a high half that ends the stream, dropped).
    "high-then-text": (["Hi \ud83d", " there"], {"Hi \ufffd there"}),
    "high-at-the-end": (["Hi ", "\ud83d"], {"Hi ", "Hi \ufffd"}),
    "only-a-high-half": (["\ud83d"], {"", "\ufffd"}),
    "lone-low-half": (["a\udcffb"], {"a\ufffdb"}),
}


@pytest.mark.parametrize("case", list(HALVES))
def test_a_stream_with_half_a_surrogate_pair_ends_and_saves_valid_text(
    make_client: Callable[..., TestClient], case: str
) -> None:
    script, expected = HALVES[case]
    model = Scripted(script)
    client = make_client(model.agent())
    cid, frames, assistant = first_turn(client)

    assert frames[-1].data["status"] == "complete", frames
    assert all(is_storable(f.data) for f in frames)
    assert assistant["status"] == "complete"
    assert assistant["text"] in expected
    assert streamed(frames) == assistant["text"]
    assert is_storable(assistant)
    assert_export_is_unicode(client, cid)

    assert_next_prompt_works(client, cid)
    history = model.calls[-1]
    assert all(is_unicode(s) for s in strings_of(history)), strings_of(history)


def test_the_model_is_sent_the_joined_pair_it_streamed_in_halves(
    make_client: Callable[..., TestClient],
) -> None:
    """The next turn's history holds the reply as the user saw it, not two U+FFFD."""
    model = Scripted(["Hi \ud83d", "\ude00 there"])
    client = make_client(model.agent())
    cid, _, assistant = first_turn(client)
    assert assistant["text"] == f"Hi {SMILE} there"

    assert_next_prompt_works(client, cid)
    replies = [
        p.content
        for m in model.calls[-1]
        if isinstance(m, ModelResponse)
        for p in m.parts
        if isinstance(p, TextPart)
    ]
    assert replies == [f"Hi {SMILE} there"]


def test_thinking_split_mid_pair_is_joined(make_client: Callable[..., TestClient]) -> None:
    model = Scripted(
        [
            {0: DeltaThinkingPart(content="Hmm \ud83d")},
            {0: DeltaThinkingPart(content="\ude00 yes")},
            "Answer",
        ]
    )
    client = make_client(model.agent())
    cid, frames, assistant = first_turn(client)
    assert frames[-1].data["status"] == "complete"
    assert streamed(frames, "thinking") == f"Hmm {SMILE} yes"
    assert shown_parts(assistant) == [
        ("thinking", f"Hmm {SMILE} yes"),
        ("text", "Answer"),
    ]
    assert_export_is_unicode(client, cid)
    assert_next_prompt_works(client, cid)


@pytest.fixture
def split_openai() -> Iterator[SplitSurrogatesOpenAI]:
    fake = SplitSurrogatesOpenAI()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.mark.slow
def test_a_provider_streaming_surrogate_halves_end_to_end(
    serve: Callable[..., Server], split_openai: SplitSurrogatesOpenAI
) -> None:
    prompt = f"smile {SMILE} please"
    assert any(
        len(p) == 1 and "\ud800" <= p <= "\udbff" for p in split_openai.pieces(reply_to(prompt))
    )
    env = {
        "PARLEY_MODEL": "openai-chat:gpt-4o",
        "OPENAI_BASE_URL": split_openai.base_url,
        "OPENAI_API_KEY": "test-key",
    }
    server = serve(env=env)
    with server.client() as client:
        cid = new_conversation(client)
        frames = send(client, cid, prompt)
        assert (frames[-1].event, frames[-1].data["status"]) == ("done", "complete"), frames
        assert streamed(frames) == reply_to(prompt)
        _, assistant = saved_messages(client, cid)
        assert (assistant["status"], assistant["text"]) == ("complete", reply_to(prompt))

        second = send(client, cid, "again")
        assert (second[-1].event, second[-1].data["status"]) == ("done", "complete"), second
        # What the provider is sent back is what it streamed, the pair whole.
        assert split_openai.requests[-1].history() == [
            ("user", prompt),
            ("assistant", reply_to(prompt)),
            ("user", "again"),
        ]
    assert "Traceback" not in server.output(), server.output()


# -- 8: a lone surrogate in a tool's name or result ---------------------------------------------

BAD_NAME = "list\udcff"


def _listing() -> str:
    return "a, b"


def _bad_result() -> str:
    return "a\udcffb"


TOOL_CASES: dict[str, tuple[list[Tool[None]], str]] = {
    # A tool registered under a name that is not valid Unicode, and called by it.
    "registered": ([Tool(_listing, name=BAD_NAME)], BAD_NAME),
    # A call to a tool that does not exist: Pydantic AI answers the model with a retry.
    "unknown": ([], BAD_NAME),
    # A good tool whose result is not valid Unicode.
    "bad-result": ([Tool(_bad_result, name="listing")], "listing"),
}


@pytest.mark.parametrize("case", list(TOOL_CASES))
def test_a_tool_with_a_lone_surrogate_ends_the_reply_and_the_next_prompt_works(
    make_client: Callable[..., TestClient], case: str
) -> None:
    tools, called = TOOL_CASES[case]
    model = Scripted([{0: DeltaToolCall(name=called, json_args="{}")}])
    client = make_client(model.agent(tools))
    cid, frames, assistant = first_turn(client)

    assert frames[-1].data["status"] == "complete", frames
    assert all(is_storable(f.data) for f in frames)
    assert assistant["status"] == "complete"
    assert assistant["text"] == "tool done"
    assert is_storable(assistant)
    assert len(model.calls) == 2  # the model was called again with the tool's answer
    if case != "unknown":
        call = next(f for f in frames if f.event == "tool_call").data
        assert call["tool_name"] == called.replace("\udcff", "\ufffd")
        result = next(f for f in frames if f.event == "tool_result").data
        assert result["content"] == ("a\ufffdb" if case == "bad-result" else "a, b")
        assert [p["type"] for p in assistant["parts"]] == ["tool_call", "tool_result", "text"]
    assert_export_is_unicode(client, cid)

    assert_next_prompt_works(client, cid)
    assert all(is_unicode(s) for s in strings_of(model.calls[-1])), strings_of(model.calls[-1])


# -- 9: NUL from the model, which PostgreSQL's text type cannot hold ----------------------------


def _nul_result() -> str:
    return "x\x00y"


NUL_CASES: dict[str, tuple[list[Delta], list[Tool[None]], list[tuple[str, str]]]] = {
    "text": (["a\x00", "b"], [], [("text", "ab")]),
    "thinking": (
        [{0: DeltaThinkingPart(content="t\x00u")}, "done"],
        [],
        [("thinking", "tu"), ("text", "done")],
    ),
    "tool-result": (
        [{0: DeltaToolCall(name="nul", json_args="{}")}],
        [Tool(_nul_result, name="nul")],
        [("tool_call", ""), ("tool_result", "xy"), ("text", "tool done")],
    ),
}


@pytest.mark.parametrize("case", list(NUL_CASES))
def test_nul_from_the_model_is_removed_and_the_reply_saved(
    make_client: Callable[..., TestClient], database_url: str, case: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite stores NUL; the failure this guards against is PostgreSQL's")
    script, tools, expected = NUL_CASES[case]
    model = Scripted(script)
    client = make_client(model.agent(tools))
    cid, frames, assistant = first_turn(client)

    assert frames[-1].data["status"] == "complete", frames
    assert assistant["status"] == "complete"
    assert shown_parts(assistant) == expected
    assert is_storable(assistant)
    assert_export_is_unicode(client, cid)
    assert_next_prompt_works(client, cid)
    assert all(is_unicode(s) for s in strings_of(model.calls[-1])), strings_of(model.calls[-1])


# -- 10: saving the reply fails --------------------------------------------------------------------


def test_a_reply_that_cannot_be_saved_ends_as_an_error(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = Scripted(["Some ", "answer"])
    client = make_client(model.agent())
    store: Store = client.app.state.services.store  # type: ignore[attr-defined]
    attempts: list[str] = []

    async def broken_finish_turn(*_args: Any, **_kwargs: Any) -> Any:
        attempts.append("finish_turn")
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(store, "finish_turn", broken_finish_turn)
    cid = new_conversation(client)
    with client.stream(
        "POST", f"/api/conversations/{cid}/messages", json={"prompt": FIRST}
    ) as response:
        assert response.status_code == 200
        frames = parse_sse(response.read().decode())
    assert attempts == ["finish_turn"]

    events = [f.event for f in frames]
    assert events[-2:] == ["error", "done"], events
    assert frames[-2].data["detail"] == "The reply could not be saved."
    assert frames[-1].data["status"] == "error"
    assert frames[-1].data["error"] == "The reply could not be saved."
    assert streamed(frames) == "Some answer"

    _user, assistant = items_of(client, cid)
    assert assistant["id"] == frames[-1].data["id"]
    assert (assistant["status"], assistant["error"]) == ("error", "The reply could not be saved.")
    # What was shown is kept.
    assert full_message(client, cid, assistant["id"])["text"] == "Some answer"
    assert client.get(f"/api/conversations/{cid}").json()["active_run_id"] is None

    monkeypatch.undo()
    assert store.finish_turn.__func__ is Store.finish_turn  # type: ignore[attr-defined]
    second = send(client, cid, "next prompt")
    assert (second[-1].event, second[-1].data["status"]) == ("done", "complete")
    assert [m["status"] for m in items_of(client, cid)] == [
        "complete",
        "error",
        "complete",
        "complete",
    ]
    # The failed reply's model messages were not saved: the next turn's history has the
    # first prompt and not a reply that was never stored.
    assert "next prompt" in strings_of(model.calls[-1])
    assert "Some answer" not in strings_of(model.calls[-1])
