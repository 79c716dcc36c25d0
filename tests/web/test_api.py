"""The HTTP API and its event stream, as data."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient

from ..support.client import (
    event_ids,
    new_conversation,
    parse_sse,
    saved_messages,
    send,
    texts_of,
)
from ..support.models import Echo, Scripted, reply_to


def test_send_streams_typed_events_and_saves_the_turn(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo(chunk=3).agent())
    cid = new_conversation(client)

    frames = send(client, cid, "hello")

    events = [f.event for f in frames]
    assert events[:2] == ["user", "start"]
    assert events[-1] == "done"
    assert "text" in events and "block" in events
    ids = event_ids(frames)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # Deltas, never cumulative: together they are the reply, each exactly once.
    text = "".join(f.data["d"] for f in frames if f.event == "text")
    assert text == reply_to("hello")
    blocks = [f for f in frames if f.event == "block"]
    assert blocks[-1].data["n"] == len(text)
    assert "<strong>hello</strong>" in "".join(b.data["html"] for b in blocks)
    done = frames[-1].data
    assert done["status"] == "complete"
    assert done["usage"]["output_tokens"] > 0
    assert frames[0].data["message"]["text"] == "hello"

    listed = client.get(f"/api/conversations/{cid}/messages").json()
    roles = [(m["role"], m["status"]) for m in listed["items"]]
    assert roles == [("user", "complete"), ("assistant", "complete")]
    assistant = listed["items"][1]
    assert assistant["id"] == done["id"]
    assert assistant["parts"][0]["html"] == "".join(b.data["html"] for b in blocks)
    assert assistant["model"] == "function:echo"
    assert saved_messages(client, cid)[1]["text"] == reply_to("hello")


def test_conversations_crud_and_most_recent_first(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    first = new_conversation(client)
    second = new_conversation(client)
    send(client, first, "bump the first one")

    items = client.get("/api/conversations").json()["items"]
    assert [c["id"] for c in items] == [first, second]
    assert items[0]["title"] == "bump the first one"

    renamed = client.patch(f"/api/conversations/{second}", json={"title": "  Plans  "})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Plans"
    assert client.get(f"/api/conversations/{second}").json()["title"] == "Plans"

    assert client.delete(f"/api/conversations/{first}").status_code == 204
    assert client.get(f"/api/conversations/{first}").status_code == 404
    assert client.get(f"/api/conversations/{first}/messages").status_code == 404
    assert [c["id"] for c in client.get("/api/conversations").json()["items"]] == [second]


def test_conversation_list_is_paginated(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    created = [new_conversation(client) for _ in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/conversations", params=params).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    assert client.get("/api/conversations", params={"cursor": "garbage!"}).status_code == 422


def test_messages_are_paginated_oldest_first(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    cid = new_conversation(client)
    for i in range(3):
        send(client, cid, f"turn {i}")
    page = client.get(f"/api/conversations/{cid}/messages", params={"limit": 4}).json()
    assert [m["text"] for m in page["items"] if m["role"] == "user"] == ["turn 1", "turn 2"]
    older = client.get(
        f"/api/conversations/{cid}/messages", params={"limit": 4, "before": page["next_cursor"]}
    ).json()
    assert texts_of(client, cid, older["items"]) == ["turn 0", reply_to("turn 0")]
    assert older["next_cursor"] is None


def test_ids_are_not_sequential(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    ids = [new_conversation(client) for _ in range(3)]
    assert all(not i.isdigit() and len(i) >= 20 for i in ids)
    assert len(set(ids)) == 3


def test_bad_input_gets_a_clear_4xx_and_writes_nothing(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent(), max_prompt_chars=50, max_body_bytes=10_000)
    cid = new_conversation(client)
    url = f"/api/conversations/{cid}/messages"

    for body in ({"prompt": ""}, {"prompt": "   \n"}, {}, {"prompt": 3}):
        response = client.post(url, json=body)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], str) and response.json()["detail"]

    too_long = client.post(url, json={"prompt": "x" * 51})
    assert too_long.status_code == 413
    assert "50 characters" in too_long.json()["detail"]

    huge = client.post(url, json={"prompt": "x" * 20_000})
    assert huge.status_code == 413

    not_json = client.post(url, content=b"prompt=hi", headers={"content-type": "text/plain"})
    assert not_json.status_code == 415

    unknown = client.post("/api/conversations/nope/messages", json={"prompt": "hi"})
    assert unknown.status_code == 404 and unknown.json()["detail"] == "No such conversation."
    assert client.patch("/api/conversations/nope", json={"title": "x"}).status_code == 404
    assert client.delete("/api/conversations/nope").status_code == 404
    assert client.patch(f"/api/conversations/{cid}", json={"title": ""}).status_code == 422
    assert client.get("/api/runs/nope/events").status_code == 404
    assert client.post("/api/runs/nope/stop").status_code == 404

    assert client.get(url).json()["items"] == []


def test_reattach_replays_every_event_exactly_once(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo(chunk=2).agent())
    cid = new_conversation(client)
    frames = send(client, cid, "replay me")
    run_id = frames[1].data["run_id"]
    full = "".join(f.data["d"] for f in frames if f.event == "text")

    for frame in frames[:-1]:
        assert frame.id is not None
        with client.stream(
            "GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(frame.id)}
        ) as response:
            replay = parse_sse(response.read().decode())
        assert all(f.id is not None and f.id > frame.id for f in replay)
        before = "".join(
            f.data["d"]
            for f in frames
            if f.event == "text" and f.id is not None and f.id <= frame.id
        )
        after = "".join(f.data["d"] for f in replay if f.event == "text")
        assert before + after == full
        assert replay[-1].event == "done"


def test_page_and_assets_are_served_locally(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/c/anything").status_code == 200
    assert client.get("/static/highlight.css").status_code == 200
    info = client.get("/api/info").json()
    assert info["model"] == "function:echo"
    assert client.get("/openapi.json").status_code == 200


def test_the_message_list_sends_each_text_once(make_client: Callable[..., TestClient]) -> None:
    prompt = "Which words matter here?"
    source = "These **bold words** matter, and *these* too."
    client = make_client(
        Scripted(["These **bold", " words** matter, ", "and *these* too."]).agent()
    )
    cid = new_conversation(client)

    with client.stream(
        "POST", f"/api/conversations/{cid}/messages", json={"prompt": prompt}
    ) as response:
        raw = response.read().decode()
    blocks = raw.replace("\r\n", "\n").split("\n\n")
    user_frames = [b for b in blocks if "event: user" in b.split("\n")]
    assert len(user_frames) == 1
    assert user_frames[0].count(prompt) == 1
    assert parse_sse(raw)[-1].data["status"] == "complete"

    listed = client.get(f"/api/conversations/{cid}/messages")
    body = listed.text
    user, assistant = listed.json()["items"]
    assert user["text"] == prompt
    assert body.count(prompt) == 1
    assert "**" not in body and source not in body and "*these*" not in body
    html = assistant["parts"][0]["html"]
    assert "<strong>bold words</strong>" in html and "<em>these</em>" in html
    assert body.count(json.dumps(html)) == 1
    assert "text" not in assistant and "text" not in assistant["parts"][0]

    full = client.get(f"/api/conversations/{cid}/messages/{assistant['id']}")
    assert full.status_code == 200
    message = full.json()
    assert message["text"] == source
    assert [p["text"] for p in message["parts"] if p["type"] == "text"] == [source]
    assert message["parts"][0]["html"] == html
    assert client.get(f"/api/conversations/{cid}/messages/nope").status_code == 404
