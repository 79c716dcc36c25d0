"""Talking to Parley's API in tests and benchmarks: sending a prompt, reading its event stream."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Frame:
    id: int | None
    event: str
    data: Any


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


def send(client: httpx.Client, conversation_id: str, prompt: str) -> list[Frame]:
    with client.stream(
        "POST", f"/api/conversations/{conversation_id}/messages", json={"prompt": prompt}
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.read().decode())


def new_conversation(client: httpx.Client) -> str:
    response = client.post("/api/conversations", json={})
    assert response.status_code == 201
    conversation_id: str = response.json()["id"]
    return conversation_id
