"""ChatGPT's data export (`conversations.json`, an array of conversations) as Parley's.

A conversation is a `mapping` of nodes (id: {message, parent, children}) and the node shown,
`current_node`. A reply is often several nodes: text, a tool call (code for `python`, a
query for `browser`: a message whose `recipient` is the tool), the tool's message with its
result, thoughts, more text. System messages, hidden ones and the user's custom instructions
are not shown in ChatGPT and are skipped. What the file holds only a pointer to (images,
audio) or Parley cannot show (browsing displays, content types it does not know) becomes a
placeholder in brackets, on screen and in the model's history alike, so both say the same.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .convert import IMAGE, Node, cannot_show, clip, conversation, guarded, json_text, string
from .errors import NotConvertible
from .format import ArchivedConversation
from .turns import Piece

AUDIO = "[Audio that is not in conversations.json]"
# Not shown in ChatGPT either: the user's custom instructions and what it remembers of them.
_CONTEXT = {"user_editable_context", "model_editable_context"}
_AUDIO_POINTERS = {"audio_asset_pointer", "real_time_user_audio_video_asset_pointer"}


def from_chatgpt(raw: dict[str, Any]) -> ArchivedConversation:
    """One conversation of ChatGPT's `conversations.json`; NotConvertible if it cannot be."""
    return guarded(_convert, raw)


def _convert(raw: dict[str, Any]) -> ArchivedConversation:
    mapping = raw.get("mapping")
    if mapping is None:
        raise NotConvertible("Its mapping is missing.")
    if not isinstance(mapping, dict):
        raise NotConvertible("Its mapping is not a JSON object.")
    entries = [(k, v) for k, v in mapping.items() if isinstance(k, str) and isinstance(v, dict)]
    times = [t for _, v in entries if (t := _time(_dict(v.get("message")).get("create_time")))]
    started = _time(raw.get("create_time")) or min(times, default=None) or datetime.now(UTC)
    updated = _time(raw.get("update_time")) or max(times, default=started)
    default_model = clip(string(raw.get("default_model_slug")), 200) or None
    nodes = [_node(key, value, started, default_model) for key, value in entries]
    # Siblings in the order of their parent's `children` (the order they were written).
    rank: dict[tuple[str, str], int] = {}
    for key, value in entries:
        for i, child in enumerate(_list(value.get("children"))):
            if isinstance(child, str) and child != key:
                rank.setdefault((key, child), i)
    order = sorted(
        range(len(nodes)),
        key=lambda i: (rank.get((nodes[i].parent or "", nodes[i].key), len(nodes)), i),
    )
    ident = string(raw.get("conversation_id")) or string(raw.get("id"))
    current = raw.get("current_node")
    return conversation(
        [nodes[i] for i in order],
        current if isinstance(current, str) else None,
        title=string(raw.get("title")),
        source=f"chatgpt:{ident}" if ident else None,
        created_at=started,
        updated_at=updated,
        archived=raw.get("is_archived") is True,
    )


def _node(key: str, value: dict[str, Any], started: datetime, default_model: str | None) -> Node:
    parent = value.get("parent")
    parent = parent if isinstance(parent, str) else None
    message = _dict(value.get("message"))
    author = _dict(message.get("author"))
    role = author.get("role")
    content = _dict(message.get("content"))
    kind = _kind(content)
    at = _time(message.get("create_time")) or started
    hidden = _dict(message.get("metadata")).get("is_visually_hidden_from_conversation")
    if role not in ("user", "assistant", "tool") or hidden or kind in _CONTEXT:
        return Node(key, parent, at)
    if role == "user":
        return Node(key, parent, at, "user", prompt="\n\n".join(_texts(content, kind)))
    model = clip(string(_dict(message.get("metadata")).get("model_slug")), 200) or default_model
    if role == "tool":
        pieces = [_result(message, author, content, kind, at)]
    else:
        pieces = _assistant(key, message, content, kind, at, model)
    return Node(key, parent, at, "reply" if pieces else "skip", pieces=pieces)


def _assistant(
    key: str,
    message: dict[str, Any],
    content: dict[str, Any],
    kind: str | None,
    at: datetime,
    model: str | None,
) -> list[Piece]:
    recipient = clip(string(message.get("recipient")), 200) or "all"
    if kind == "thoughts":
        thoughts = [_dict(t) for t in _list(content.get("thoughts"))]
        return [Piece("thinking", text, at, model) for text in map(_thought, thoughts) if text]
    if kind == "reasoning_recap":
        # "Thought for 5 seconds": the thoughts themselves are a node of their own.
        return []
    if recipient != "all" and kind in ("code", "text", "multimodal_text"):
        # A message to a tool (the code interpreter, the browser, DALL·E, memory): a call.
        args = _args(content, kind)
        return [Piece("call", args, at, model, tool_name=recipient, tool_call_id=string(key))]
    text = "\n\n".join(_texts(content, kind))
    return [Piece("text", text, at, model)] if text else []


def _thought(thought: dict[str, Any]) -> str:
    return "\n\n".join(
        filter(None, (string(thought.get("summary")), string(thought.get("content"))))
    )


def _args(content: dict[str, Any], kind: str | None) -> str:
    if kind == "code":
        return json_text({"code": string(content.get("text"))})
    text = "".join(p for p in _list(content.get("parts")) if isinstance(p, str))
    try:
        # DALL·E's and plugins' calls are JSON objects already.
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            return json_text(parsed)
    except (ValueError, RecursionError):
        pass
    return json_text({"text": text})


def _result(
    message: dict[str, Any],
    author: dict[str, Any],
    content: dict[str, Any],
    kind: str | None,
    at: datetime,
) -> Piece:
    name = clip(string(author.get("name")), 200) or "tool"
    if kind == "execution_output":
        output = [string(content.get("text"))]
        # A chart the code drew is only a pointer in the export.
        aggregate = _dict(_dict(message.get("metadata")).get("aggregate_result"))
        images = [
            m for m in _list(aggregate.get("messages")) if _dict(m).get("message_type") == "image"
        ]
        text = "\n\n".join(filter(None, output + [IMAGE] * len(images)))
        return Piece("result", text, at, tool_name=name)
    if kind == "system_error":
        return Piece("result", string(content.get("text")), at, tool_name=name, failed=True)
    return Piece("result", "\n\n".join(_texts(content, kind)), at, tool_name=name)


def _texts(content: dict[str, Any], kind: str | None) -> list[str]:
    """What `content` shows as text, placeholders included."""
    if kind in ("text", "multimodal_text"):
        texts = [_part(p) for p in _list(content.get("parts"))]
        return [t for t in texts if t]
    if kind == "code":
        code = string(content.get("text"))
        return [f"```\n{code}\n```"] if code else []
    if kind == "execution_output":
        return [t for t in [string(content.get("text"))] if t]
    if kind == "system_error":
        return [f"[ChatGPT reported an error: {string(content.get('text'))}]"]
    return [cannot_show("ChatGPT", kind)]


def _part(part: Any) -> str:
    if isinstance(part, str):
        return string(part)
    if not isinstance(part, dict):
        return ""
    kind = _kind(part)
    if kind == "image_asset_pointer":
        return IMAGE
    if kind in _AUDIO_POINTERS:
        return AUDIO
    if kind == "audio_transcription":
        return string(part.get("text"))
    return cannot_show("ChatGPT", kind)


def _kind(content: dict[str, Any]) -> str | None:
    kind = content.get("content_type")
    return kind if isinstance(kind, str) else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
