"""ChatGPT's conversations.json as Parley's conversations (chat/archive/chatgpt.py): the tree,
the branch shown, what is kept, what becomes a placeholder, tool calls; and odd input refused
or cleaned, never a crash."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_ai import messages as ai
from pydantic_ai.messages import ModelMessagesTypeAdapter

from parley.chat.archive.chatgpt import from_chatgpt
from parley.chat.archive.errors import NotConvertible
from parley.chat.models import TextPart, ThinkingPart, ToolCallPart, ToolResultPart
from parley.render import render_markdown

from .checks import FUZZ, NO_REPLY, Samples, branch, check, checked, converts_or_is_refused, tree

SAMPLES = Samples.load("chatgpt_conversations.json")
IMAGE = "[An image that is not in conversations.json]"


def at(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


# -- building exports in tests ---------------------------------------------------------------


def node(
    key: str, parent: str | None, role: str | None = None, content: Any = None, **message: Any
) -> tuple[str, dict[str, Any]]:
    """A mapping entry; with no role, an empty node (like the export's root)."""
    if role is None:
        return key, {"id": key, "message": None, "parent": parent, "children": []}
    if isinstance(content, str):
        content = {"content_type": "text", "parts": [content]}
    return key, {
        "id": key,
        "message": {
            "id": key,
            "author": {"role": role, "name": message.pop("name", None), "metadata": {}},
            "create_time": message.pop("create_time", 1700000000.0),
            "content": content,
            "status": "finished_successfully",
            "metadata": message.pop("metadata", {}),
            "recipient": message.pop("recipient", "all"),
            **message,
        },
        "parent": parent,
        "children": [],
    }


def export(*entries: tuple[str, dict[str, Any]], current: str | None = None) -> dict[str, Any]:
    mapping = dict(entries)
    for key, value in mapping.items():
        if value["parent"] in mapping:
            mapping[value["parent"]]["children"].append(key)
    return {
        "title": "Test",
        "create_time": 1700000000.0,
        "update_time": 1700000100.0,
        "mapping": mapping,
        "current_node": current,
        "conversation_id": "c-1",
        "id": "c-1",
        "default_model_slug": "gpt-4o",
        "is_archived": False,
    }


# -- the samples -----------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_every_sample_keeps_parleys_invariants(index: int) -> None:
    check(from_chatgpt(SAMPLES.copy(index)))


def test_a_linear_conversation() -> None:
    conversation = from_chatgpt(SAMPLES.copy(0))
    assert conversation.title == "Haiku about tea"
    assert conversation.title_source == "user"
    assert conversation.source == "chatgpt:6758a1c2-0000-8000-9000-00000000aa01"
    assert conversation.archived is False
    assert conversation.created_at == at(1700000000.5)
    assert conversation.updated_at == at(1700000300.25)
    tea = "Steam curls from the cup\nleaves unfold in amber warmth\nquiet afternoon"
    coffee = "**Dark** roast at dawn\nbitter warmth against the cold\nthe day starts to move"
    # The empty root and the hidden system message are not shown.
    assert tree(conversation) == [
        ("user", "Write a haiku about tea.", None),
        ("assistant", tea, "Write a haiku about tea."),
        ("user", "Now one about **coffee**.", tea),
        ("assistant", coffee, "Now one about **coffee**."),
    ]
    assert conversation.current_leaf_id == conversation.messages[3].id
    prompt, reply = conversation.messages[2], conversation.messages[3]
    # A prompt shows its text as written; a reply's markdown is rendered.
    assert prompt.parts == [TextPart(text="Now one about **coffee**.")]
    assert reply.parts == [TextPart(text=coffee, html=render_markdown(coffee))]
    assert "<strong>Dark</strong>" in render_markdown(coffee)
    assert reply.model == "gpt-4o"
    assert [m.created_at for m in conversation.messages] == [
        at(1700000010.0),
        at(1700000012.0),
        at(1700000100.0),
        at(1700000105.0),
    ]
    request = ModelMessagesTypeAdapter.validate_python(prompt.model_messages)[0]
    assert isinstance(request, ai.ModelRequest)
    assert request.parts == [
        ai.UserPromptPart("Now one about **coffee**.", timestamp=at(1700000100.0))
    ]
    response = ModelMessagesTypeAdapter.validate_python(reply.model_messages)[0]
    assert isinstance(response, ai.ModelResponse)
    assert response.model_name == "gpt-4o"
    assert response.timestamp == at(1700000105.0)
    assert response.parts == [ai.TextPart(reply.text)]


def test_a_branched_conversation_shows_the_branch_chatgpt_showed() -> None:
    conversation = from_chatgpt(SAMPLES.copy(1))
    q1, sydney, canberra, nz, _, _, wellington = conversation.messages
    assert tree(conversation) == [
        ("user", "What is the capital of Australia?", None),
        # A regenerated reply: two versions under the prompt, in the order written.
        ("assistant", "Sydney.", q1.text),
        ("assistant", "Canberra.", q1.text),
        # An edited prompt: two versions under the reply.
        ("user", "And New Zealand?", "Canberra."),
        ("assistant", "Wellington is the capital of New Zealand.", "And New Zealand?"),
        ("user", "And of New Zealand, in one word?", "Canberra."),
        ("assistant", "Wellington.", "And of New Zealand, in one word?"),
    ]
    # current_node is in the second version of both.
    assert conversation.current_leaf_id == wellington.id
    assert [m.text for m in branch(conversation)] == [
        q1.text,
        "Canberra.",
        "And of New Zealand, in one word?",
        "Wellington.",
    ]
    assert (sydney.model, canberra.model) == ("gpt-4", "gpt-4o")
    assert conversation.archived is True
    # A message with no create_time has the conversation's.
    assert wellington.created_at == at(1700100000.0)
    assert nz.created_at == at(1700100300.0)


def test_current_node_chooses_the_branch() -> None:
    raw = SAMPLES.copy(1)
    raw["current_node"] = "a-1"
    conversation = from_chatgpt(raw)
    assert [m.text for m in branch(conversation)] == [
        "What is the capital of Australia?",
        "Sydney.",
    ]
    # A prompt as current_node: its reply is shown with it.
    raw["current_node"] = "u-2"
    assert branch(from_chatgpt(raw))[-1].text == "Wellington is the capital of New Zealand."
    # Unknown or missing: the newest leaf.
    for current in ("no-such-node", None, 42):
        raw["current_node"] = current
        assert branch(from_chatgpt(raw))[-1].text == "Wellington."


def test_tool_calls_thoughts_images_and_placeholders() -> None:
    conversation = from_chatgpt(SAMPLES.copy(2))
    prompt, reply, widget_prompt, widget = conversation.messages
    # An image is only a pointer in the export: a placeholder, for the model too.
    assert prompt.text == f"{IMAGE}\n\nWhat does this chart show? Then compute 2**10."
    request = ModelMessagesTypeAdapter.validate_python(prompt.model_messages)[0]
    assert isinstance(request, ai.ModelRequest)
    assert request.parts[0].content == prompt.text  # type: ignore[union-attr]
    # The hidden custom instructions are not a message.
    assert "I like charts" not in json.dumps(conversation.model_dump(mode="json"))
    # Thoughts, two tool calls and their results, then the answer: one reply.
    browsing = "[ChatGPT content Parley cannot show: tether_browsing_display]"
    answer = "The chart shows one period of a sine wave (2π), and 2**10 = 1024."
    assert reply.parts == [
        ThinkingPart(text="Reading the chart\n\nThe image shows one period of a sine wave."),
        ToolCallPart(tool_call_id="code-c1", tool_name="python", args='{"code": "print(2**10)"}'),
        ToolResultPart(tool_call_id="code-c1", tool_name="python", content="1024\n"),
        ToolCallPart(
            tool_call_id="web-c1",
            tool_name="browser",
            args='{"code": "search(\\"sine wave period\\")"}',
        ),
        ToolResultPart(tool_call_id="web-c1", tool_name="browser", content=browsing),
        TextPart(text=answer, html=f"<p>{answer}</p>\n"),
    ]
    assert reply.text == answer
    assert "Thought for" not in json.dumps(conversation.model_dump(mode="json"))
    assert reply.model == "o3"
    assert reply.created_at == at(1700200011.0)
    loaded = ModelMessagesTypeAdapter.validate_python(reply.model_messages)
    assert [type(m) for m in loaded] == [
        ai.ModelResponse,
        ai.ModelRequest,
        ai.ModelResponse,
        ai.ModelRequest,
        ai.ModelResponse,
    ]
    first, result, _, browsed, last = loaded
    assert isinstance(first, ai.ModelResponse) and isinstance(result, ai.ModelRequest)
    assert [type(p) for p in first.parts] == [ai.ThinkingPart, ai.ToolCallPart]
    call, returned = first.parts[1], result.parts[0]
    assert isinstance(call, ai.ToolCallPart) and isinstance(returned, ai.ToolReturnPart)
    assert call.args_as_dict() == {"code": "print(2**10)"}
    assert (returned.tool_call_id, returned.tool_name, returned.content) == (
        call.tool_call_id,
        "python",
        "1024\n",
    )
    assert returned.timestamp == at(1700200014.0)
    assert isinstance(browsed, ai.ModelRequest) and browsed.parts[0].content == browsing  # type: ignore[union-attr]
    assert isinstance(last, ai.ModelResponse) and last.model_name == "o3"
    # A content type Parley does not know: said, not dropped, on screen and for the model.
    unknown = "[ChatGPT content Parley cannot show: sparkle_widget]"
    assert widget.text == unknown
    assert unknown in json.dumps(widget.model_messages)
    assert conversation.current_leaf_id == widget.id
    assert widget_prompt.parent_id == reply.id


# -- trees Parley has to repair --------------------------------------------------------------


def test_a_prompt_without_a_reply_gets_an_error_reply() -> None:
    raw = export(
        node("root", None),
        node("u1", "root", "user", "First"),
        node("u2", "u1", "user", "Second, sent again"),
        node("a2", "u2", "assistant", "At last"),
        current="a2",
    )
    conversation = checked(from_chatgpt(raw))
    first, missing, second, reply = conversation.messages
    assert (missing.role, missing.status, missing.error) == ("assistant", "error", NO_REPLY)
    assert missing.parent_id == first.id and second.parent_id == missing.id
    assert missing.model_messages == []
    assert conversation.current_leaf_id == reply.id


def test_a_conversation_that_begins_with_a_reply() -> None:
    raw = export(
        node("a0", None, "assistant", "Hello, how can I help?", create_time=1700000001.0),
        node("u1", "a0", "user", "Hi"),
        node("a1", "u1", "assistant", "Hi!"),
    )
    conversation = checked(from_chatgpt(raw))
    assert tree(conversation)[:2] == [
        ("user", "(The conversation began with a reply.)", None),
        ("assistant", "Hello, how can I help?", "(The conversation began with a reply.)"),
    ]
    assert conversation.messages[0].created_at == at(1700000001.0)
    assert branch(conversation)[-1].text == "Hi!"


def test_a_regenerated_reply_after_a_tool_call_copies_the_shared_start() -> None:
    code = {"content_type": "code", "language": "python", "text": "1+1"}
    raw = export(
        node("u1", None, "user", "Add"),
        node("c1", "u1", "assistant", code, recipient="python"),
        node("t1", "c1", "tool", {"content_type": "execution_output", "text": "2"}, name="python"),
        node("a1", "t1", "assistant", "It is 2."),
        node("a1b", "t1", "assistant", "Two."),
        node("u2", "a1", "user", "Thanks"),
        current="a1b",
    )
    conversation = checked(from_chatgpt(raw))
    first, second = (m for m in conversation.messages if m.role == "assistant" and m.parts)
    assert [p.type for p in first.parts] == ["tool_call", "tool_result", "text"]
    assert first.parts[:2] == second.parts[:2]
    assert (first.text, second.text) == ("It is 2.", "Two.")
    assert conversation.current_leaf_id == second.id
    assert tree(conversation)[-2][1:] == ("Thanks", "It is 2.")


def test_a_result_without_a_call_and_a_call_without_a_result() -> None:
    code = {"content_type": "code", "language": "python", "text": "loop()"}
    raw = export(
        node("u1", None, "user", "Go"),
        node("t0", "u1", "tool", {"content_type": "text", "parts": ["stray"]}, name="browser"),
        node("c1", "t0", "assistant", code, recipient="python"),
        current="c1",
    )
    conversation = checked(from_chatgpt(raw))
    reply = conversation.messages[1]
    assert reply.parts[0] == TextPart(text="[Output of browser]\n\nstray", html=reply.parts[0].html)  # type: ignore[union-attr]
    assert reply.parts[1:] == [
        ToolCallPart(tool_call_id="c1", tool_name="python", args='{"code": "loop()"}'),
        ToolResultPart(
            tool_call_id="c1", tool_name="python", content="No result was imported for this call."
        ),
    ]
    loaded = ModelMessagesTypeAdapter.validate_python(reply.model_messages)
    returned = loaded[-1].parts[0]
    assert isinstance(returned, ai.ToolReturnPart) and returned.outcome == "interrupted"


def test_a_system_error_from_a_tool_is_a_failed_result() -> None:
    code = {"content_type": "code", "language": "python", "text": "1/0"}
    error = {"content_type": "system_error", "name": "tool_error", "text": "Timed out"}
    raw = export(
        node("u1", None, "user", "Divide"),
        node("c1", "u1", "assistant", code, recipient="python"),
        node("t1", "c1", "tool", error, name="python"),
    )
    reply = from_chatgpt(raw).messages[1]
    assert reply.parts[1] == ToolResultPart(
        tool_call_id="c1", tool_name="python", content="Timed out"
    )
    returned = ModelMessagesTypeAdapter.validate_python(reply.model_messages)[1].parts[0]
    assert isinstance(returned, ai.ToolReturnPart) and returned.outcome == "failed"


# -- malformed input: NotConvertible or a cleaned result, nothing else ----------------------


@pytest.mark.parametrize("raw", [[], "conversation", None, 3, [{"mapping": {}}]])
def test_not_an_object(raw: Any) -> None:
    with pytest.raises(NotConvertible, match="not a JSON object"):
        from_chatgpt(raw)


def test_mapping_missing_or_wrong() -> None:
    raw = SAMPLES.copy(0)
    del raw["mapping"]
    with pytest.raises(NotConvertible, match="mapping is missing"):
        from_chatgpt(raw)
    raw["mapping"] = ["a", "b"]
    with pytest.raises(NotConvertible, match="mapping is not a JSON object"):
        from_chatgpt(raw)


def test_nothing_to_show() -> None:
    mappings: list[dict[str, Any]] = [{}, {"root": {"message": None, "parent": None}}]
    for mapping in mappings:
        with pytest.raises(NotConvertible, match="no messages"):
            from_chatgpt({"mapping": mapping})
    hidden = export(node("s", None, "system", "You are ChatGPT."))
    with pytest.raises(NotConvertible, match="no messages"):
        from_chatgpt(hidden)


def test_a_cycle_in_the_mapping_is_left_out() -> None:
    raw = export(
        node("u1", None, "user", "Kept"),
        node("a1", "u1", "assistant", "Kept too"),
        node("x", "y", "user", "In a loop"),
        node("y", "x", "assistant", "Also in a loop"),
        node("self", "self", "user", "My own parent"),
        current="x",
    )
    conversation = checked(from_chatgpt(raw))
    # The loop's nodes are not reachable from any root; a node its own parent is a root.
    assert tree(conversation) == [
        ("user", "Kept", None),
        ("assistant", "Kept too", "Kept"),
        ("user", "My own parent", None),
        ("assistant", "", "My own parent"),
    ]
    # current_node in the loop: the newest leaf instead.
    assert conversation.current_leaf_id == conversation.messages[-1].id
    only_a_cycle = export(node("x", "y", "user", "a"), node("y", "x", "assistant", "b"))
    with pytest.raises(NotConvertible, match="no messages"):
        from_chatgpt(only_a_cycle)


def test_a_node_whose_parent_is_missing_becomes_a_root() -> None:
    raw = export(
        node("u1", None, "user", "First"),
        node("a1", "u1", "assistant", "One"),
        node("u2", "deleted-node", "user", "Orphan"),
        node("a2", "u2", "assistant", "Two"),
        current="a2",
    )
    conversation = checked(from_chatgpt(raw))
    roots = [m.text for m in conversation.messages if m.parent_id is None]
    assert roots == ["First", "Orphan"]
    assert [m.text for m in branch(conversation)] == ["Orphan", "Two"]


def test_lone_surrogates_and_nul_are_cleaned() -> None:
    raw = export(
        node("u\ud800", None, "user", "Hi\ud800 there\x00"),
        node(
            "c\x00",
            "u\ud800",
            "assistant",
            {"content_type": "code", "text": "x\ud800"},
            recipient="py\x00thon",
        ),
        node(
            "t1",
            "c\x00",
            "tool",
            {"content_type": "execution_output", "text": "o\x00k"},
            name="py\x00thon",
        ),
        node("a1", "t1", "assistant", "Bye\ud83d", metadata={"model_slug": "gpt\x00-4o"}),
        current="a1",
    )
    raw["title"] = "Ti\ud800tle\x00"
    raw["conversation_id"] = "c\ud8001"
    conversation = from_chatgpt(raw)
    check(conversation)  # every string valid and storable
    assert conversation.title == "Ti\ufffdtle"
    assert conversation.source == "chatgpt:c\ufffd1"
    prompt, reply = conversation.messages
    assert prompt.text == "Hi\ufffd there"
    assert reply.parts[1] == ToolResultPart(tool_call_id="c", tool_name="python", content="ok")
    assert reply.text == "Bye\ufffd"
    assert reply.model == "gpt-4o"


def test_odd_values_are_ignored() -> None:
    raw = export(
        node("u1", None, "user", {"content_type": "text", "parts": [None, 5, ["deep"], "Kept"]}),
        node(
            "a1",
            "u1",
            "assistant",
            "Reply",
            create_time=float("nan"),
            metadata=["not", "a", "dict"],
        ),
        node("a2", "u1", "assistant", {"content_type": 7}, create_time=10**400),
        node("a3", "u1", "assistant", None, author="nobody"),
        node("a4", "u1", "assistant", "x", create_time=True, metadata={"model_slug": "m" * 500}),
    )
    raw["mapping"][3] = {"message": None}
    raw["mapping"]["not-a-node"] = "text"
    raw["mapping"]["u1"]["children"] = "not a list"
    raw.update(create_time="yesterday", update_time=-1e300, title=42, default_model_slug=[1])
    conversation = checked(from_chatgpt(raw))
    texts = [m.text for m in conversation.messages]
    assert texts[:3] == ["Kept", "Reply", "[ChatGPT content Parley cannot show: unknown]"]
    assert conversation.title == "Kept" and conversation.title_source == "prompt"
    assert len(conversation.messages[-1].model or "") == 200
    assert all(m.created_at.tzinfo is not None for m in conversation.messages)


def test_deep_values_do_not_crash() -> None:
    deep: Any = "bottom"
    for _ in range(100_000):
        deep = [deep]
    nested = "[" * 100_000 + "]" * 100_000
    raw = export(
        node("u1", None, "user", {"content_type": "text", "parts": [deep, "Shown"]}),
        node(
            "c1", "u1", "assistant", {"content_type": "text", "parts": [nested]}, recipient="dalle"
        ),
        node("a1", "c1", "assistant", {"content_type": "text", "parts": ["Done"], "extra": deep}),
    )
    conversation = checked(from_chatgpt(raw))
    call = conversation.messages[1].parts[0]
    assert isinstance(call, ToolCallPart) and json.loads(call.args) == {"text": nested}


def _turns(count: int) -> dict[str, Any]:
    entries, parent = [], None
    for i in range(count):
        entries.append(node(f"u{i}", parent, "user", f"q{i}"))
        entries.append(node(f"a{i}", f"u{i}", "assistant", f"a{i}"))
        parent = f"a{i}"
    return export(*entries)


def _calls(raw: dict[str, Any]) -> int:
    """The Python function calls converting `raw` makes: work counted, not timed, so a busy
    machine cannot fail the test and a quadratic walk cannot pass it."""
    count = 0

    def profile(_frame: Any, event: str, _arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        from_chatgpt(raw)
    finally:
        sys.setprofile(None)
    return count


def test_long_chains_convert_in_linear_time() -> None:
    # Thousands deep: a recursive walk would hit Python's recursion limit.
    large = from_chatgpt(_turns(1500))
    assert len(large.messages) == 3000
    assert branch(large)[-1].text == "a1499"
    # Ten times the nodes, about ten times the work (a walk copying prefixes would be 100).
    assert _calls(_turns(1500)) < 12 * _calls(_turns(150))
    # One reply of 5,000 nodes, below 5,000 hidden ones: one prompt, one reply.
    entries = [node("u", None, "user", "Go")]
    parent = "u"
    for i in range(5000):
        hidden = {"is_visually_hidden_from_conversation": True}
        entries.append(node(f"h{i}", parent, "system", "", metadata=hidden))
        parent = f"h{i}"
    for i in range(5000):
        entries.append(node(f"a{i}", parent, "assistant", f"step {i}"))
        parent = f"a{i}"
    chain = from_chatgpt(export(*entries))
    assert [m.role for m in chain.messages] == ["user", "assistant"]
    assert chain.messages[1].text.endswith("step 4998\n\nstep 4999")


def test_a_reply_branching_at_every_node_is_refused() -> None:
    entries = [node("u", None, "user", "Go")]
    parent = "u"
    for i in range(3000):
        entries.append(node(f"a{i}", parent, "assistant", f"step {i}"))
        entries.append(node(f"b{i}", f"a{i}", "assistant", f"other {i}"))
        parent = f"a{i}"
    with pytest.raises(NotConvertible, match="branch too often"):
        from_chatgpt(export(*entries))


@FUZZ
@given(data=st.data())
def test_any_mutation_converts_or_is_refused(data: st.DataObject) -> None:
    converts_or_is_refused(data, from_chatgpt, SAMPLES)
