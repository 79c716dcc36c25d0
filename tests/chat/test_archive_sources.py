"""ChatGPT's and Claude's `conversations.json` imported through `POST /api/import`: branches,
the branch shown, what the model gets next, and no duplicates. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from ..support.client import saved_messages, send
from ..support.models import Echo, prompts_of

SAMPLES = Path(__file__).parent / "archive" / "samples"


def _import(client: TestClient, name: str) -> dict[str, Any]:
    answer = client.post(
        "/api/import",
        content=(SAMPLES / name).read_bytes(),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _listed(client: TestClient) -> list[dict[str, Any]]:
    """Every conversation, archived ones too."""
    return [
        c
        for archived in ("false", "true")
        for c in client.get(f"/api/conversations?limit=200&archived={archived}").json()["items"]
    ]


def _titled(client: TestClient, title: str) -> dict[str, Any]:
    (found,) = [c for c in _listed(client) if c["title"] == title]
    return found


def test_a_chatgpt_export_becomes_branched_conversations_once(
    make_client: Callable[..., TestClient],
) -> None:
    echo = Echo()
    client = make_client(echo.agent())
    result = _import(client, "chatgpt_conversations.json")
    assert (result["format"], result["imported"], result["skipped"]) == ("chatgpt", 3, 0)

    capitals = _titled(client, "Capitals")
    # is_archived in ChatGPT's export: archived here.
    assert capitals["archived"] is True
    shown = saved_messages(client, capitals["id"])
    # current_node pointed at the second version of both the reply and the follow-up.
    assert [m["text"] for m in shown] == [
        "What is the capital of Australia?",
        "Canberra.",
        "And of New Zealand, in one word?",
        "Wellington.",
    ]
    listed = client.get(f"/api/conversations/{capitals['id']}/messages").json()["items"]
    assert [len(m["siblings"]) for m in listed] == [1, 2, 2, 1]
    assert shown[1]["model"] is not None and shown[1]["created_at"].startswith("20")

    # The conversation goes on: the model gets the branch shown, then the new prompt.
    send(client, capitals["id"], "And Fiji?")
    assert prompts_of(echo.calls[-1]) == [
        "What is the capital of Australia?",
        "And of New Zealand, in one word?",
        "And Fiji?",
    ]

    again = _import(client, "chatgpt_conversations.json")
    assert (again["imported"], again["skipped"], again["refused"]) == (0, 3, 0)
    assert len(_listed(client)) == 3


def test_parts_parley_cannot_show_become_placeholders(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    _import(client, "chatgpt_conversations.json")
    chart = _titled(client, "Sine chart and powers of two")
    text = "\n".join(m["text"] for m in saved_messages(client, chart["id"]))
    assert "[An image that is not in conversations.json]" in text
    assert "[ChatGPT content Parley cannot show: sparkle_widget]" in text
    kinds = [p["type"] for m in saved_messages(client, chart["id"]) for p in m["parts"]]
    assert {"thinking", "tool_call", "tool_result"} <= set(kinds)


def test_a_claude_export_becomes_conversations_once(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    result = _import(client, "claude_conversations.json")
    assert (result["format"], result["imported"]) == ("claude", 2)
    notes = _titled(client, "Summarize my notes")
    shown = saved_messages(client, notes["id"])
    assert [m["role"] for m in shown] == ["user", "assistant", "user", "assistant"]
    assert {"thinking", "tool_call", "tool_result"} <= {p["type"] for p in shown[1]["parts"]}
    (colors,) = [c for c in _listed(client) if c["id"] != notes["id"]]
    assert [m["text"] for m in saved_messages(client, colors["id"])] == [
        "Name a color.",
        "Blue.",
        "Another one, please.",
        "Yellow.",
    ]
    assert _import(client, "claude_conversations.json")["skipped"] == 2
