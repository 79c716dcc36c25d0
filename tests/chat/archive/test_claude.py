"""Claude's conversations.json as Parley's conversations (chat/archive/claude.py): the tree from
parent links or the list's order, the branch shown, attachments, thinking and tools; and odd
input refused or cleaned, never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_ai import messages as ai
from pydantic_ai.messages import ModelMessagesTypeAdapter

from parley.chat.archive.claude import from_claude
from parley.chat.archive.errors import NotConvertible
from parley.chat.models import TextPart, ThinkingPart, ToolCallPart, ToolResultPart
from parley.render import render_markdown

from .checks import FUZZ, NO_REPLY, Samples, branch, check, checked, converts_or_is_refused, tree

SAMPLES = Samples.load("claude_conversations.json")
ROOT = "00000000-0000-4000-8000-000000000000"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def message(uuid: str, sender: str, text: str, **fields: Any) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "text": text,
        "content": fields.pop("content", [{"type": "text", "text": text}]),
        "sender": sender,
        "created_at": fields.pop("created_at", "2024-06-01T10:00:00Z"),
        "attachments": [],
        "files": [],
        **fields,
    }


def export(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "uuid": "conv-1",
        "name": "Test",
        "created_at": "2024-06-01T09:00:00Z",
        "updated_at": "2024-06-01T11:00:00Z",
        "chat_messages": list(messages),
        **fields,
    }


# -- the samples -----------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_every_sample_keeps_parleys_invariants(index: int) -> None:
    check(from_claude(SAMPLES.copy(index)))


def test_a_linear_conversation_with_attachments_thinking_and_a_tool() -> None:
    conversation = from_claude(SAMPLES.copy(0))
    assert conversation.title == "Summarize my notes"
    assert conversation.title_source == "user"
    assert conversation.source == "claude:1b0c2a3e-5d4f-4e6a-9b7c-000000000001"
    assert conversation.created_at == utc("2024-06-01T10:00:00Z")
    assert conversation.updated_at == utc("2024-06-01T10:05:00Z")
    prompt, reply, thanks, welcome = conversation.messages
    # No parent links: one branch, in the list's order.
    assert [m.parent_id for m in conversation.messages] == [None, prompt.id, reply.id, thanks.id]
    assert conversation.current_leaf_id == welcome.id
    # The prompt shows a line per file; the model received the extracted text as Parley sends
    # a text file, and a placeholder for the file whose content is not in the export.
    missing = "[A file that is not in conversations.json: photo.png]"
    assert prompt.text == f"Summarize my notes.\n\n[Attached: notes.txt]\n{missing}"
    assert prompt.parts == [TextPart(text=prompt.text)]
    assert prompt.created_at == utc("2024-06-01T10:00:00.500000Z")
    request = ModelMessagesTypeAdapter.validate_python(prompt.model_messages)[0]
    assert isinstance(request, ai.ModelRequest)
    assert request.parts == [
        ai.UserPromptPart(
            [
                "Summarize my notes.",
                '<file name="notes.txt">\nBuy milk.\nCall Ana.\n</file>',
                missing,
            ],
            timestamp=utc("2024-06-01T10:00:00.500000Z"),
        )
    ]
    tasks, made = "Two tasks: buy milk and call Ana.", "I made a *to-do* list."
    args = {
        "id": "todo",
        "type": "text/markdown",
        "title": "To do",
        "command": "create",
        "content": "- Buy milk\n- Call Ana",
    }
    assert reply.parts == [
        ThinkingPart(text="The notes list two tasks."),
        TextPart(text=tasks, html=render_markdown(tasks)),
        ToolCallPart(tool_call_id="toolu_01", tool_name="artifacts", args=json.dumps(args)),
        ToolResultPart(tool_call_id="toolu_01", tool_name="artifacts", content="OK"),
        TextPart(text=made, html=render_markdown(made)),
    ]
    assert reply.text == f"{tasks}\n\n{made}"
    first, result, last = ModelMessagesTypeAdapter.validate_python(reply.model_messages)
    assert isinstance(first, ai.ModelResponse) and isinstance(result, ai.ModelRequest)
    assert [type(p) for p in first.parts] == [ai.ThinkingPart, ai.TextPart, ai.ToolCallPart]
    assert result.parts == [
        ai.ToolReturnPart("artifacts", "OK", "toolu_01", timestamp=utc("2024-06-01T10:00:03Z"))
    ]
    assert isinstance(last, ai.ModelResponse) and last.parts == [ai.TextPart(made)]
    # A message with no content blocks (an older export): its text.
    assert (thanks.text, welcome.text) == ("Thanks!", "You're welcome.")
    assert welcome.model is None


def test_the_model_is_kept_when_the_export_names_it() -> None:
    raw = SAMPLES.copy(0)
    raw["model"] = "claude-sonnet-4-5"
    conversation = from_claude(raw)
    replies = [m for m in conversation.messages if m.role == "assistant"]
    assert [m.model for m in replies] == ["claude-sonnet-4-5"] * 2
    response = ModelMessagesTypeAdapter.validate_python(replies[0].model_messages)[0]
    assert isinstance(response, ai.ModelResponse) and response.model_name == "claude-sonnet-4-5"
    # Not the conversation's model: a name of Claude's is not one of the operator's models.
    assert conversation.model is None


def test_parent_links_make_the_branches() -> None:
    conversation = from_claude(SAMPLES.copy(1))
    green, yellow = conversation.messages[4], conversation.messages[6]
    assert tree(conversation) == [
        ("user", "Name a color.", None),
        ("assistant", "Red.", "Name a color."),
        ("assistant", "Blue.", "Name a color."),
        ("user", "Another?", "Blue."),
        ("assistant", "Green.", "Another?"),
        ("user", "Another one, please.", "Blue."),
        ("assistant", "Yellow.", "Another one, please."),
    ]
    assert conversation.current_leaf_id == yellow.id
    assert [m.text for m in branch(conversation)] == [
        "Name a color.",
        "Blue.",
        "Another one, please.",
        "Yellow.",
    ]
    # No name: the first prompt is the title, as for a conversation started in Parley.
    assert (conversation.title, conversation.title_source) == ("Name a color.", "prompt")
    assert green.created_at == utc("2024-06-02T09:02:01Z")


def test_the_current_leaf_chooses_the_branch() -> None:
    raw = SAMPLES.copy(1)
    raw["current_leaf_message_uuid"] = "b-a2"
    assert [m.text for m in branch(from_claude(raw))][-2:] == ["Another?", "Green."]
    raw["current_leaf_message_uuid"] = "b-h1"
    assert [m.text for m in branch(from_claude(raw))] == ["Name a color.", "Red."]
    # Without it: the last message of the list.
    del raw["current_leaf_message_uuid"]
    raw["chat_messages"].append(raw["chat_messages"].pop(4))
    assert branch(from_claude(raw))[-1].text == "Green."


# -- trees Parley has to repair, tools without ids -------------------------------------------


def test_prompts_without_replies_and_replies_without_prompts() -> None:
    raw = export(
        message("a0", "assistant", "Hello."),
        message("h1", "human", "Hi"),
        message("h2", "human", "Hi again"),
        message("a2", "assistant", "Sorry, "),
        message("a3", "assistant", "I was away."),
    )
    conversation = checked(from_claude(raw))
    assert tree(conversation) == [
        ("user", "(The conversation began with a reply.)", None),
        ("assistant", "Hello.", "(The conversation began with a reply.)"),
        ("user", "Hi", "Hello."),
        ("assistant", "", "Hi"),
        ("user", "Hi again", ""),
        # Two replies in a row are one reply.
        ("assistant", "Sorry, \n\nI was away.", "Hi again"),
    ]
    assert conversation.messages[3].error == NO_REPLY
    assert conversation.messages[3].status == "error"


def test_tool_results_found_by_name_failed_or_without_a_call() -> None:
    content = [
        {"type": "tool_use", "name": "web_search", "input": {"query": "tea"}},
        {"type": "tool_use", "name": "repl", "input": "not an object"},
        {"type": "tool_result", "name": "web_search", "content": "3 results", "is_error": False},
        {
            "type": "tool_result",
            "name": "repl",
            "content": [{"type": "text", "text": "Boom"}],
            "is_error": True,
        },
        {"type": "tool_result", "name": "stray", "content": [{"type": "image"}]},
        {"type": "voice_note", "title": "hm"},
    ]
    raw = export(message("h", "human", "Search"), message("a", "assistant", "", content=content))
    reply = from_claude(raw).messages[1]
    search, repl = reply.parts[0], reply.parts[1]
    assert isinstance(search, ToolCallPart) and isinstance(repl, ToolCallPart)
    assert search.tool_call_id and repl.tool_call_id and search.tool_call_id != repl.tool_call_id
    assert json.loads(repl.args) == {"input": "not an object"}
    assert reply.parts[2:4] == [
        ToolResultPart(
            tool_call_id=search.tool_call_id, tool_name="web_search", content="3 results"
        ),
        ToolResultPart(tool_call_id=repl.tool_call_id, tool_name="repl", content="Boom"),
    ]
    stray = "[Output of stray]\n\n[An image that is not in conversations.json]"
    unknown = "[Claude content Parley cannot show: voice_note]"
    assert reply.parts[4:] == [
        TextPart(text=f"{stray}\n\n{unknown}", html=render_markdown(f"{stray}\n\n{unknown}"))
    ]
    returns = ModelMessagesTypeAdapter.validate_python(reply.model_messages)[1].parts
    assert [(r.tool_name, r.outcome) for r in returns] == [  # type: ignore[union-attr]
        ("web_search", "success"),
        ("repl", "failed"),
    ]


# -- malformed input: NotConvertible or a cleaned result, nothing else ----------------------


@pytest.mark.parametrize("raw", [[], "conversation", None, 3.5])
def test_not_an_object(raw: Any) -> None:
    with pytest.raises(NotConvertible, match="not a JSON object"):
        from_claude(raw)


def test_chat_messages_missing_wrong_or_empty() -> None:
    raw = SAMPLES.copy(0)
    del raw["chat_messages"]
    with pytest.raises(NotConvertible, match="chat_messages are missing"):
        from_claude(raw)
    raw["chat_messages"] = {"a": 1}
    with pytest.raises(NotConvertible, match="not a list"):
        from_claude(raw)
    for messages in ([], [1, "two", None], [{"sender": "system", "text": "x"}]):
        raw["chat_messages"] = messages
        with pytest.raises(NotConvertible, match="no messages"):
            from_claude(raw)


def test_cycles_and_missing_parents() -> None:
    raw = export(
        message("h1", "human", "Root", parent_message_uuid=ROOT),
        message("a1", "assistant", "Reply", parent_message_uuid="h1"),
        message("x", "human", "Loop", parent_message_uuid="y"),
        message("y", "assistant", "Loop too", parent_message_uuid="x"),
        message("h2", "human", "Lost parent", parent_message_uuid="deleted"),
        message("a2", "assistant", "Still here", parent_message_uuid="h2"),
        message("h1", "human", "Same uuid again", parent_message_uuid="a1"),
        current_leaf_message_uuid="x",
    )
    conversation = checked(from_claude(raw))
    assert tree(conversation) == [
        ("user", "Root", None),
        ("assistant", "Reply", "Root"),
        ("user", "Lost parent", None),
        ("assistant", "Still here", "Lost parent"),
    ]
    assert branch(conversation)[-1].text == "Still here"


def test_lone_surrogates_nul_and_odd_timestamps() -> None:
    raw = export(
        message("h\ud800", "human", "Hi\ud800\x00", created_at="not a date"),
        message(
            "a",
            "assistant",
            "",
            content=[
                {"type": "thinking", "thinking": "hm\x00m"},
                {
                    "type": "tool_use",
                    "id": "t\ud800",
                    "name": "s\x00h",
                    "input": {"k\ud800": "v\x00"},
                },
                {"type": "text", "text": "Bye\udc00"},
            ],
            created_at="2024-06-01T10:00:00+02:00",
        ),
        name="Na\ud800me\x00",
        uuid="u\x00id",
        created_at=12345,
    )
    raw["chat_messages"][0]["attachments"] = [
        {"file_name": "a\ud800.txt", "extracted_content": "x\x00y"},
        {"file_name": None},
        "not a dict",
    ]
    conversation = checked(from_claude(raw))
    assert conversation.title == "Na\ufffdme"
    assert conversation.source == "claude:uid"
    prompt, reply = conversation.messages
    missing = "[A file that is not in conversations.json: attachment]"
    assert prompt.text == f"Hi\ufffd\n\n[Attached: a\ufffd.txt]\n{missing}"
    # The name JSON-quoted, as Parley quotes it (chat/files.py).
    sent = prompt.model_messages[0]["parts"][0]["content"]
    assert sent == ["Hi\ufffd", '<file name="a\\ufffd.txt">\nxy\n</file>', missing]
    assert reply.parts[1] == ToolCallPart(
        tool_call_id="t\ufffd", tool_name="sh", args='{"k\ufffd": "v"}'
    )
    assert reply.text == "Bye\ufffd"
    # A date that does not parse: the earliest one that does; offsets become UTC.
    assert reply.created_at == utc("2024-06-01T08:00:00Z")
    assert prompt.created_at == reply.created_at == conversation.created_at


def test_values_too_deep_or_too_long_are_refused() -> None:
    deep: Any = {}
    for _ in range(100_000):
        deep = {"k": deep}
    tool = {"type": "tool_use", "name": "t", "input": deep}
    raw = export(message("h", "human", "Go"), message("a", "assistant", "", content=[tool]))
    with pytest.raises(NotConvertible, match="nested too deeply"):
        from_claude(raw)
    tool["input"] = {"n": 10**5000}
    with pytest.raises(NotConvertible, match="cannot store"):
        from_claude(raw)
    tool["input"] = {"n": float("nan"), "m": float("inf")}
    call = from_claude(raw).messages[1].parts[0]
    assert isinstance(call, ToolCallPart) and json.loads(call.args) == {"n": None, "m": None}


def test_a_long_linear_conversation() -> None:
    messages = [
        message(f"m{i}", "human" if i % 2 == 0 else "assistant", f"text {i}") for i in range(2000)
    ]
    conversation = from_claude(export(*messages))
    assert len(conversation.messages) == 2000
    assert len(branch(conversation)) == 2000


@FUZZ
@given(data=st.data())
def test_any_mutation_converts_or_is_refused(data: st.DataObject) -> None:
    converts_or_is_refused(data, from_claude, SAMPLES)
