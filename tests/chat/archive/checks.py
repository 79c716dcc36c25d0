"""What every conversation converted from another app's export must be: Parley's tree (a
prompt's children are replies, a reply's children prompts, every prompt answered), Pydantic AI
messages that load, message by message and along the branch shown, and storable text."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic_ai import messages as ai
from pydantic_ai.messages import ModelMessagesTypeAdapter

from parley.chat.archive.errors import NotConvertible
from parley.chat.archive.format import ArchivedConversation, ArchivedMessage
from parley.chat.text import check_text

#: A converter of one app's export: one conversation of its conversations.json in, Parley's out.
Convert = Callable[[Any], ArchivedConversation]


#: The error reply both converters give a prompt that has none.
NO_REPLY = "No reply was imported for this message."


@dataclass(frozen=True)
class Samples:
    """The conversations of one file of samples/ (a conversations.json of its app's shape)."""

    conversations: list[dict[str, Any]]

    @classmethod
    def load(cls, name: str) -> Samples:
        return cls(json.loads((Path(__file__).parent / "samples" / name).read_text()))

    def __len__(self) -> int:
        return len(self.conversations)

    def copy(self, index: int) -> dict[str, Any]:
        """Conversation `index`, as a fresh copy a test may change."""
        return copy.deepcopy(self.conversations[index])


def by_id(conversation: ArchivedConversation) -> dict[str, ArchivedMessage]:
    return {m.id: m for m in conversation.messages}


def branch(conversation: ArchivedConversation) -> list[ArchivedMessage]:
    """The branch shown, root first."""
    messages = by_id(conversation)
    path, at_id = [], conversation.current_leaf_id
    while at_id is not None:
        path.append(messages[at_id])
        at_id = messages[at_id].parent_id
    return path[::-1]


def tree(conversation: ArchivedConversation) -> list[tuple[str, str, str | None]]:
    """Each message as (role, text, its parent's text), in the order of `messages`."""
    messages = by_id(conversation)
    return [
        (m.role, m.text, messages[m.parent_id].text if m.parent_id else None)
        for m in conversation.messages
    ]


def strings(value: Any) -> list[str]:
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def check(conversation: ArchivedConversation) -> None:
    """Parley's tree invariants, valid Pydantic AI messages (each message's and the branch's),
    storable text, and a conversation that survives its own JSON."""
    seen: dict[str, ArchivedMessage] = {}
    for m in conversation.messages:
        assert m.id not in seen
        parent = seen[m.parent_id] if m.parent_id is not None else None  # parents first
        if m.role == "user":
            assert parent is None or parent.role == "assistant"
            kinds = [type(x) for x in ModelMessagesTypeAdapter.validate_python(m.model_messages)]
            assert kinds == [ai.ModelRequest]
        else:
            assert parent is not None and parent.role == "user"
            loaded = ModelMessagesTypeAdapter.validate_python(m.model_messages)
            # Responses, with the tool results between them in requests.
            assert all(
                isinstance(x, ai.ModelResponse if i % 2 == 0 else ai.ModelRequest)
                for i, x in enumerate(loaded)
            )
        seen[m.id] = m
    for m in conversation.messages:
        if m.role == "user":
            assert any(c.parent_id == m.id and c.role == "assistant" for c in seen.values())
    assert conversation.current_leaf_id in seen
    history = [d for m in branch(conversation) for d in m.model_messages]
    ModelMessagesTypeAdapter.validate_python(history)
    for text in strings(conversation.model_dump(mode="json")):
        check_text(text)
    assert ArchivedConversation.model_validate_json(conversation.model_dump_json()) == conversation


def checked(conversation: ArchivedConversation) -> ArchivedConversation:
    """`conversation`, once `check` passed on it."""
    check(conversation)
    return conversation


# Any JSON value, and some a JSON parser does not give but a caller may still pass.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(["\ud800", "\x00", "", "all", "user", "assistant", "tool"])
    # An integer too long to write as text (hypothesis cannot show it in a strategy's name).
    | st.just(5000).map(lambda digits: 10**digits)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        found.append(path)
        if isinstance(item, dict):
            stack.extend(((*path, k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend(((*path, i), v) for i, v in enumerate(item))
    return found


def mutated(data: st.DataObject, raw: dict[str, Any]) -> dict[str, Any]:
    """`raw` with one to three of its values (at any depth) replaced by odd ones."""
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(raw)[1:]))
        target: Any = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = data.draw(JSON_VALUES)
    return raw


#: The fuzz tests' settings: many examples, each converting a whole sample (slow for hypothesis).
FUZZ = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def converts_or_is_refused(data: st.DataObject, convert: Convert, samples: Samples) -> None:
    """One of `samples`, `mutated`, converts to a conversation that passes `check`, or is
    refused with NotConvertible: any other exception fails the test."""
    raw = mutated(data, samples.copy(data.draw(st.integers(0, len(samples) - 1))))
    try:
        conversation = convert(raw)
    except NotConvertible:
        return
    check(conversation)
