"""Talking to Parley's API in tests and benchmarks: sending a prompt, reading its event stream."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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


def parse_sse(raw: str) -> list[Frame]:
    frames: list[Frame] = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))
        if "data" in fields:
            frames.append(
                Frame(
                    id=int(fields["id"][0]) if "id" in fields else None,
                    event=fields.get("event", ["message"])[0],
                    data=json.loads("\n".join(fields["data"])),
                )
            )
    return frames


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
    """The current branch's messages with all their text (the list sends a reply's HTML only):
    the conversation's JSON export."""
    response = client.get(f"/api/conversations/{conversation_id}/export")
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def texts_of(client: Client, conversation_id: str, items: Sequence[Mapping[str, Any]]) -> list[str]:
    """The whole text of each of `items` (messages the list gave, which may leave it out), as
    saved: each looked up by id in `saved_messages`."""
    saved = {m["id"]: m["text"] for m in saved_messages(client, conversation_id)}
    return [saved[m["id"]] for m in items]


def full_message(client: Client, conversation_id: str, message_id: str) -> dict[str, Any]:
    """One message with all its text (its source, and each text part's): the message's own
    route, `GET /api/conversations/{id}/messages/{message_id}`."""
    response = client.get(f"/api/conversations/{conversation_id}/messages/{message_id}")
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()
    return message
