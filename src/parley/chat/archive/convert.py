"""What the ChatGPT and Claude converters share: another app's message tree as Parley's turns.

Both apps keep a tree of messages linked by parent ids, in which one reply may be several
nodes (text, a tool call, its result, more text) and anything may be missing or odd. Parley
keeps turns: roots are prompts, a prompt's children are replies, a reply's children are
prompts, and every prompt has a reply. A converter reads its app's fields into `Node`s (a
prompt, the `Piece`s of a reply, or a node to skip); `conversation` makes Parley's tree of
them, each reply with its parts as Parley shows them and Pydantic AI's messages.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ...db.ids import new_id
from ..models import TitleSource
from ..text import clean_text
from .errors import NotConvertible
from .format import ArchivedConversation, ArchivedMessage
from .turns import Piece, prompt_message, reply_message

BEGAN_WITH_REPLY = "(The conversation began with a reply.)"
NO_REPLY = "No reply was imported for this message."
# Exports hold images and other files as pointers to the app's storage, not their bytes.
IMAGE = "[An image that is not in conversations.json]"


def cannot_show(app: str, kind: Any) -> str:
    """The placeholder for content of a type Parley has no way to show."""
    return f"[{app} content Parley cannot show: {clip(string(kind), 100) or 'unknown'}]"


@dataclass
class Node:
    """One message of the app's tree, already cleaned: a prompt, part of a reply, or neither."""

    key: str
    parent: str | None
    at: datetime
    role: Literal["user", "reply", "skip"] = "skip"
    # A prompt: what the user sees, and what the model received when that differs.
    prompt: str = ""
    sent: list[str] | None = None
    pieces: list[Piece] = field(default_factory=list[Piece])


def string(value: Any) -> str:
    """`value` cleaned (chat/text.py) if it is a string, else ""."""
    return clean_text(value) if isinstance(value, str) else ""


def clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def json_text(value: Any) -> str:
    """`value` as JSON text a tool call's arguments can hold (strict JSON, clean strings)."""
    return json.dumps(_plain(value), ensure_ascii=False, allow_nan=False)


def _plain(value: Any) -> Any:
    # json.loads accepts NaN and Infinity, which strict JSON (and PostgreSQL's jsonb) refuses.
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {
            clean_text(k if isinstance(k, str) else str(k)): _plain(v) for k, v in value.items()
        }
    return clean_text(str(value))


def guarded(
    convert: Callable[[dict[str, Any]], ArchivedConversation], raw: object
) -> ArchivedConversation:
    """`convert(raw)`, where whatever the file holds ends as a conversation or NotConvertible."""
    if not isinstance(raw, dict):
        raise NotConvertible("It is not a JSON object.")
    try:
        return convert(raw)
    except NotConvertible:
        raise
    except RecursionError:
        # A value nested thousands deep (JSON allows it): refused, not a crashed import.
        raise NotConvertible("It is nested too deeply to read.") from None
    except ValueError as error:
        # Pydantic's ValidationError included: a value no field can hold (an integer too long
        # to write as text, say). One odd conversation must not stop the others.
        raise NotConvertible("It holds a value Parley cannot store.") from error


def conversation(
    nodes: Sequence[Node],
    current: str | None,
    *,
    title: str,
    source: str | None,
    created_at: datetime,
    updated_at: datetime,
    archived: bool = False,
) -> ArchivedConversation:
    """The conversation of `nodes` (siblings in the order they were written), showing the
    branch of the node `current` (the newest leaf when it is not known)."""
    if source is not None and len(source) > 200:
        raise NotConvertible("Its id is longer than Parley keeps.")
    builder = _Builder(nodes)
    messages = builder.build()
    leaf = builder.leaf(current)
    if not messages or leaf is None:
        raise NotConvertible("It has no messages Parley can show.")
    title, title_source = _title(title, messages)
    return ArchivedConversation(
        id=new_id(),
        title=title,
        title_source=title_source,
        archived=archived,
        source=source,
        created_at=created_at,
        updated_at=max(updated_at, created_at),
        current_leaf_id=leaf,
        messages=messages,
    )


def _title(title: str, messages: list[ArchivedMessage]) -> tuple[str, TitleSource]:
    title = " ".join(title.split())
    if title:
        return clip(title, 200), "user"
    for message in messages:
        first = message.text.strip().split("\n", 1)[0].strip()
        if message.role == "user" and message.text != BEGAN_WITH_REPLY and first:
            return clip(first, 80), "prompt"
    return "New chat", "default"


class _Builder:
    """Parley's messages of one app's tree, built once each: linear in the nodes, but for a
    reply that branches inside (its shared beginning is copied into each version)."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes: dict[str, Node] = {}
        for node in nodes:
            self.nodes.setdefault(node.key, node)
        children: dict[str | None, list[str]] = {}
        for key, node in self.nodes.items():
            # A parent that is not in the file makes a root (the rest of its branch survives).
            parent = node.parent if node.parent in self.nodes and node.parent != key else None
            children.setdefault(parent, []).append(key)
        # Each node has one parent, so walking down from the roots visits each node once, and
        # nodes whose parents form a cycle are never reached: no walk can loop.
        self.kept: dict[str | None, list[str]] = {}
        self.nearest: dict[str, str | None] = {}
        # A reply node's depth in its reply (1 at the top), parents first: what building every
        # version of the reply copies, known before building anything.
        depth: dict[str, int] = {}
        stack: list[tuple[str, str | None]] = [(k, None) for k in reversed(children.get(None, []))]
        while stack:
            key, above = stack.pop()
            if self.nodes[key].role != "skip":
                # A skipped node's children hang from its nearest kept ancestor.
                self.kept.setdefault(above, []).append(key)
                if self._is(key, "reply"):
                    depth[key] = depth.get(above, 0) + 1 if above is not None else 1
                above = key
            self.nearest[key] = above
            stack.extend((k, above) for k in reversed(children.get(key, [])))
        copies = sum(depth[k] for k in depth if self._ends(k))
        if copies > 2 * len(self.nodes) + 10_000:
            raise NotConvertible("Its replies branch too often to import.")
        self.out: list[ArchivedMessage] = []
        self.first_reply: dict[str, str] = {}
        self.reply_of_end: dict[str, str] = {}

    def _is(self, key: str, role: str) -> bool:
        return self.nodes[key].role == role

    def _ends(self, key: str) -> bool:
        """Whether reply node `key` ends a version of its reply: no reply node follows it, or
        a prompt answers it there."""
        below = self.kept.get(key, [])
        return not below or any(self._is(k, "user") for k in below)

    def build(self) -> list[ArchivedMessage]:
        """The messages, parents before children (a breadth-first walk)."""
        roots = self.kept.get(None, [])
        queue: deque[tuple[str | None, str | None]] = deque()
        began = False
        for key in roots:
            if self._is(key, "user"):
                queue.append((key, None))
            elif not began:
                # Replies before any prompt: one placeholder prompt holds them all.
                queue.append((None, None))
                began = True
        while queue:
            self._turn(*queue.popleft(), queue)
        return self.out

    def _turn(
        self, key: str | None, parent_id: str | None, queue: deque[tuple[str | None, str | None]]
    ) -> None:
        if key is None:
            tops = [k for k in self.kept.get(None, []) if self._is(k, "reply")]
            prompt = prompt_message(BEGAN_WITH_REPLY, None, self.nodes[tops[0]].at, parent_id)
            users: list[str] = []
        else:
            node = self.nodes[key]
            prompt = prompt_message(node.prompt, node.sent, node.at, parent_id)
            below = self.kept.get(key, [])
            tops = [k for k in below if self._is(k, "reply")]
            users = [k for k in below if self._is(k, "user")]
        self.out.append(prompt)
        first: str | None = None
        for top in tops:
            for path in self._paths(top):
                reply = reply_message([p for k in path for p in self.nodes[k].pieces], prompt.id)
                self.out.append(reply)
                first = first or reply.id
                self.reply_of_end[path[-1]] = reply.id
                queue.extend(
                    (k, reply.id) for k in self.kept.get(path[-1], []) if self._is(k, "user")
                )
        if first is None:
            missing = ArchivedMessage(
                id=new_id(),
                parent_id=prompt.id,
                role="assistant",
                status="error",
                error=NO_REPLY,
                created_at=prompt.created_at,
            )
            self.out.append(missing)
            first = missing.id
        if key is not None:
            self.first_reply[key] = first
        # A prompt straight after a prompt follows that prompt's (first) reply.
        queue.extend((k, first) for k in users)

    def _paths(self, top: str) -> Iterator[list[str]]:
        """Each version of the reply starting at `top`: the nodes from `top` down to a node
        that ends it (no reply node below, or a prompt answering it), depth first."""
        stack = [(top, 0)]
        path: list[str] = []
        while stack:
            key, depth = stack.pop()
            del path[depth:]
            path.append(key)
            if self._ends(key):
                yield list(path)
            replies = [k for k in self.kept.get(key, []) if self._is(k, "reply")]
            stack.extend((k, depth + 1) for k in reversed(replies))

    def leaf(self, current: str | None) -> str | None:
        """The message holding node `current`, else the newest leaf (the last child down)."""
        key = self.nearest.get(current) if current is not None else None
        if key is not None and self._is(key, "user"):
            return self.first_reply[key]
        if key is not None:
            while key not in self.reply_of_end:
                key = next(k for k in self.kept[key] if self._is(k, "reply"))
            return self.reply_of_end[key]
        children: dict[str | None, list[str]] = {}
        for message in self.out:
            children.setdefault(message.parent_id, []).append(message.id)
        at: str | None = None
        while at in children:
            at = children[at][-1]
        return at
