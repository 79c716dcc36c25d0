"""Claude's (claude.ai) data export (`conversations.json`, an array of conversations) as Parley's.

A conversation is a list of `chat_messages`, each from the human or the assistant. Newer
exports link each to its parent (`parent_message_uuid`), which keeps the versions an edit or a
retry made; older ones are one branch, in order. A reply's `content` is blocks: text,
thinking, tool use and tool results. Files a prompt attached are in the export as their
extracted text at best: that text goes to the model as Parley sends a text file, and the
prompt shows one line per file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..text import clean_text
from .convert import IMAGE, Node, cannot_show, clip, conversation, guarded, json_text, string
from .errors import NotConvertible
from .format import ArchivedConversation
from .turns import Piece


def from_claude(raw: dict[str, Any]) -> ArchivedConversation:
    """One conversation of Claude's `conversations.json`; NotConvertible if it cannot be."""
    return guarded(_convert, raw)


def _convert(raw: dict[str, Any]) -> ArchivedConversation:
    chat = raw.get("chat_messages")
    if chat is None:
        raise NotConvertible("Its chat_messages are missing.")
    if not isinstance(chat, list):
        raise NotConvertible("Its chat_messages are not a list.")
    messages = [m for m in chat if isinstance(m, dict)]
    times = [t for m in messages if (t := _time(m.get("created_at")))]
    started = _time(raw.get("created_at")) or min(times, default=None) or datetime.now(UTC)
    updated = _time(raw.get("updated_at")) or max(times, default=started)
    model = clip(string(raw.get("model")), 200) or None
    # An export without parent links is one branch, in the order of the list.
    linked = any("parent_message_uuid" in m for m in messages)
    nodes: list[Node] = []
    previous: str | None = None
    for index, message in enumerate(messages):
        uuid = message.get("uuid")
        key = uuid if isinstance(uuid, str) and uuid else f"#{index}"
        parent = message.get("parent_message_uuid") if linked else previous
        at = _time(message.get("created_at")) or started
        nodes.append(_node(key, parent if isinstance(parent, str) else None, message, at, model))
        previous = key
    current = raw.get("current_leaf_message_uuid")
    uuid = string(raw.get("uuid"))
    return conversation(
        nodes,
        current if isinstance(current, str) else (nodes[-1].key if nodes else None),
        title=string(raw.get("name")),
        source=f"claude:{uuid}" if uuid else None,
        created_at=started,
        updated_at=updated,
    )


def _node(
    key: str, parent: str | None, message: dict[str, Any], at: datetime, model: str | None
) -> Node:
    blocks = _dicts(message.get("content"))
    sender = message.get("sender")
    if sender == "human":
        prompt, sent = _prompt(message, blocks)
        return Node(key, parent, at, "user", prompt=prompt, sent=sent)
    if sender != "assistant":
        return Node(key, parent, at)
    pieces = [p for b in blocks if (p := _piece(b, at, model)) is not None]
    if not pieces and (text := string(message.get("text"))):
        # An older export, or content without blocks: the message's text is the reply.
        pieces = [Piece("text", text, at, model)]
    return Node(key, parent, at, "reply" if pieces else "skip", pieces=pieces)


def _prompt(message: dict[str, Any], blocks: list[dict[str, Any]]) -> tuple[str, list[str] | None]:
    """The prompt as the user sees it, and as the model received it when files came with it."""
    shown = [_block_text(b) for b in blocks]
    if not any(b.get("type") == "text" for b in blocks):
        shown.insert(0, string(message.get("text")))
    prompt = "\n\n".join(s for s in shown if s)
    lines: list[str] = []
    sent = [prompt]
    names: set[str] = set()
    for attachment in _dicts(message.get("attachments")):
        name = clip(string(attachment.get("file_name")), 255) or "attachment"
        names.add(name)
        extracted = attachment.get("extracted_content")
        if isinstance(extracted, str):
            lines.append(f"[Attached: {name}]")
            # As Parley sends a text file (chat/files.py); the quoted name cannot close the tag.
            sent.append(f"<file name={json.dumps(name)}>\n{clean_text(extracted)}\n</file>")
        else:
            lines.append(_missing(name))
            sent.append(_missing(name))
    for file in _dicts(message.get("files")):
        name = clip(string(file.get("file_name")), 255) or "file"
        if name not in names:
            names.add(name)
            lines.append(_missing(name))
            sent.append(_missing(name))
    if not lines:
        return prompt, None
    return "\n\n".join(filter(None, [prompt, "\n".join(lines)])), sent


def _missing(name: str) -> str:
    return f"[A file that is not in conversations.json: {name}]"


def _piece(block: dict[str, Any], at: datetime, model: str | None) -> Piece | None:
    kind = block.get("type")
    if kind == "thinking":
        thinking = string(block.get("thinking"))
        return Piece("thinking", thinking, at, model) if thinking else None
    if kind == "tool_use":
        name = clip(string(block.get("name")), 200) or "tool"
        given = block.get("input")
        args = json_text(given if isinstance(given, dict) else {"input": given})
        return Piece("call", args, at, model, tool_name=name, tool_call_id=string(block.get("id")))
    if kind == "tool_result":
        return Piece(
            "result",
            _result_text(block.get("content")),
            at,
            model,
            tool_name=clip(string(block.get("name")), 200),
            tool_call_id=string(block.get("tool_use_id")),
            failed=block.get("is_error") is True,
        )
    text = _block_text(block)
    return Piece("text", text, at, model) if text else None


def _block_text(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return string(block.get("text"))
    if kind == "image":
        return IMAGE
    return cannot_show("Claude", kind)


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return clean_text(content)
    if isinstance(content, list):
        items = (string(c) if isinstance(c, str) else _block_text(_dict(c)) for c in content)
        return "\n\n".join(filter(None, items))
    return "" if content is None else json_text(content)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
