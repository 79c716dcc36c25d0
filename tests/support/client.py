"""Talking to Parley's API in tests and benchmarks: sending a prompt, reading its event stream
(whole, or frame by frame as it arrives)."""

from __future__ import annotations

import json
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

Client = httpx.Client | TestClient
"""What these helpers talk to Parley through: an `httpx.Client` on a real server, or a
`TestClient` on an app in process (Starlette's, built on httpx2: not an `httpx.Client`)."""


@dataclass
class Frame:
    id: int | None
    event: str
    data: Any


def event_ids(frames: list[Frame]) -> list[int]:
    """The id of each of `frames`, which must all have one."""
    ids: list[int] = []
    for frame in frames:
        assert frame.id is not None, frame
        ids.append(frame.id)
    return ids


def _frame(lines: Iterable[str]) -> Frame | None:
    """The frame of one block of an event stream (its lines), or None for a comment or a
    block without data."""
    fields: dict[str, list[str]] = {}
    for line in lines:
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value.removeprefix(" "))
    if "data" not in fields:
        return None
    return Frame(
        id=int(fields["id"][0]) if "id" in fields else None,
        event=fields.get("event", ["message"])[0],
        data=json.loads("\n".join(fields["data"])),
    )


def sse_blocks(raw: str) -> Iterator[tuple[str, Frame]]:
    """Each frame of a whole event stream, with the block of text it was read from."""
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        frame = _frame(block.split("\n"))
        if frame is not None:
            yield block, frame


def parse_sse(raw: str) -> list[Frame]:
    return [frame for _, frame in sse_blocks(raw)]


class _Blocks:
    """Lines of an event stream in, frames out: a blank line ends a block."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, line: str) -> Frame | None:
        if line:
            self.lines.append(line)
            return None
        return self.end()

    def end(self) -> Frame | None:
        lines, self.lines = self.lines, []
        return _frame(lines) if lines else None


def iter_frames(lines: Iterable[str]) -> Iterator[Frame]:
    """The frames of a streaming response (its `iter_lines()`), each as soon as it has
    arrived: a test may act on one, then go on reading or hang up."""
    blocks = _Blocks()
    for line in lines:
        if (frame := blocks.add(line)) is not None:
            yield frame
    if (frame := blocks.end()) is not None:
        yield frame


async def aiter_frames(lines: AsyncIterable[str]) -> AsyncIterator[Frame]:
    """`iter_frames` for an async response (its `aiter_lines()`)."""
    blocks = _Blocks()
    async for line in lines:
        if (frame := blocks.add(line)) is not None:
            yield frame
    if (frame := blocks.end()) is not None:
        yield frame


def send(client: Client, conversation_id: str, prompt: str) -> list[Frame]:
    with client.stream(
        "POST", f"/api/conversations/{conversation_id}/messages", json={"prompt": prompt}
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.read().decode())


def new_conversation(client: Client) -> str:
    response = client.post("/api/conversations", json={})
    assert response.status_code == 201
    conversation_id: str = response.json()["id"]
    return conversation_id


def saved_messages(client: Client, conversation_id: str) -> list[dict[str, Any]]:
    """The current branch's messages with all their text (the list sends a reply's HTML only),
    from the conversation's JSON export."""
    response = client.get(f"/api/conversations/{conversation_id}/export")
    assert response.status_code == 200, response.text
    (conversation,) = response.json()["conversations"]
    by_id = {m["id"]: m for m in conversation["messages"]}
    # The export holds every branch: walk the one shown up from its leaf.
    path: list[dict[str, Any]] = []
    at = conversation["current_leaf_id"]
    while at is not None:
        path.append(by_id[at])
        at = by_id[at]["parent_id"]
    return path[::-1]


def texts_of(client: Client, conversation_id: str, items: Sequence[Mapping[str, Any]]) -> list[str]:
    """The whole text of each of `items` (messages the list gave, which may leave it out), as
    saved: each looked up by id in `saved_messages`."""
    saved = {m["id"]: m["text"] for m in saved_messages(client, conversation_id)}
    return [saved[m["id"]] for m in items]


def wait_until_saved(client: Client, conversation_id: str, seen: str, timeout: float = 30) -> None:
    """Wait until the conversation's last message, as saved, holds at least `seen` (what a
    client was streamed): a checkpoint has run. Waited for, not slept: a loaded machine can
    hold a checkpoint back longer than any fixed pause."""
    deadline = time.monotonic() + timeout
    while True:
        items = client.get(f"/api/conversations/{conversation_id}/messages").json()["items"]
        if len(texts_of(client, conversation_id, items)[-1]) >= len(seen.strip()):
            return
        assert time.monotonic() < deadline, f"no checkpoint saved {seen!r} in {timeout} s"
        time.sleep(0.05)


def full_message(client: Client, conversation_id: str, message_id: str) -> dict[str, Any]:
    """One message with all its text (its source, and each text part's): the message's own
    route, `GET /api/conversations/{id}/messages/{message_id}`."""
    response = client.get(f"/api/conversations/{conversation_id}/messages/{message_id}")
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()
    return message


def _stream(client: Client, url: str, body: Mapping[str, Any] | None) -> list[Frame]:
    with client.stream("POST", url, json=body) as response:
        assert response.status_code == 200, response.read()
        return parse_sse(response.read().decode())


def edit(client: Client, conversation_id: str, message_id: str, prompt: str) -> list[Frame]:
    """Send a new version of the prompt `message_id`; its event stream."""
    url = f"/api/conversations/{conversation_id}/messages/{message_id}/edit"
    return _stream(client, url, {"prompt": prompt})


def regenerate(client: Client, conversation_id: str, message_id: str) -> list[Frame]:
    """Ask for a new version of the reply `message_id`; its event stream."""
    url = f"/api/conversations/{conversation_id}/messages/{message_id}/regenerate"
    return _stream(client, url, None)


def switch(client: Client, conversation_id: str, message_id: str) -> dict[str, Any]:
    """Show the newest branch through `message_id`; the conversation."""
    response = client.put(
        f"/api/conversations/{conversation_id}/branch", json={"message_id": message_id}
    )
    assert response.status_code == 200, response.text
    conversation: dict[str, Any] = response.json()
    return conversation


def branch(client: Client, conversation_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """The current branch as the list gives it (the newest `limit` messages)."""
    response = client.get(f"/api/conversations/{conversation_id}/messages?limit={limit}")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
