"""Export and import of Parley JSON: lossless round trips, duplicates, bad files. On SQLite and
PostgreSQL, through the API."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic_ai.messages import ModelMessagesTypeAdapter

from parley.db.tables import conversations, files, message_files, messages

from ..support.client import branch, edit, new_conversation, regenerate, send
from ..support.databases import sqlite_url
from ..support.files import Recorder, big_png, binaries, png, send_files, uploaded
from ..support.models import tool_agent


def _rows(client: TestClient, table: sa.Table) -> int:
    engine = client.app.state.services.store.engine  # type: ignore[attr-defined]

    async def run() -> int:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)

    return client.portal.call(run)  # type: ignore[union-attr]


def _counts(client: TestClient) -> dict[str, int]:
    return {t.name: _rows(client, t) for t in (conversations, messages, files, message_files)}


def rich_conversation(client: TestClient) -> str:
    """Branches (an edited prompt, a regenerated reply), thinking, a tool call and its
    result, an error reply, usage, and an image."""
    cid = new_conversation(client)
    image_id = uploaded(client, "cat.png", png())
    send_files(client, cid, "What is the weather?", [image_id])
    send(client, cid, "break")
    first = branch(client, cid)
    regenerate(client, cid, first[1]["id"])
    edit(client, cid, first[0]["id"], "And the weather in Paris?")
    return cid


def _export(client: TestClient, cid: str) -> dict[str, Any]:
    response = client.get(f"/api/conversations/{cid}/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].endswith('.json"')
    document: dict[str, Any] = response.json()
    return document


def _exported_then_deleted(client: TestClient) -> tuple[str, dict[str, Any]]:
    """A conversation of one prompt, exported, then deleted: its id, and its export (which an
    import writes again)."""
    cid = new_conversation(client)
    send(client, cid, "hello")
    document = _export(client, cid)
    assert client.delete(f"/api/conversations/{cid}").status_code == 204
    return cid, document


def _import(client: TestClient, body: bytes | dict[str, Any] | list[Any]) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/api/import", content=content, headers={"Content-Type": "application/json"})


def _model_messages(document: dict[str, Any]) -> list[Any]:
    return [
        ModelMessagesTypeAdapter.validate_python(m["model_messages"])
        for c in document["conversations"]
        for m in c["messages"]
    ]


def test_export_then_import_then_export_gives_the_same_conversation(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_client(tool_agent(fails_on="break"))
    cid = rich_conversation(client)
    first = _export(client, cid)
    (conversation,) = first["conversations"]
    assert first["format"] == "parley" and first["version"] == 1
    # Every branch is there: two versions of the first prompt, two of its first reply.
    roots = [m for m in conversation["messages"] if m["parent_id"] is None]
    assert len(roots) == 2
    kinds = {p["type"] for m in conversation["messages"] for p in m["parts"]}
    assert {"text", "thinking", "tool_call", "tool_result", "attachment"} <= kinds
    assert any(m["status"] == "error" for m in conversation["messages"])
    assert any(m["usage"] for m in conversation["messages"])
    assert [f["name"] for f in conversation["files"]] == ["cat.png"]

    # Into another, empty database: the same conversation, ids and all.
    other = make_client(tool_agent(), database_url=sqlite_url(tmp_path / "other.db"))
    answer = _import(other, first)
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"conversation_ids": []} == {
        "format": "parley",
        "imported": 1,
        "skipped": 0,
        "refused": 0,
        "conversation_ids": [],
        "refusals": [],
    }
    assert answer.json()["conversation_ids"] == [cid]
    second = _export(other, cid)
    assert second["conversations"] == first["conversations"]
    assert _model_messages(second) == _model_messages(first)

    # Into the same database after deleting it: the same again.
    assert client.delete(f"/api/conversations/{cid}").status_code == 204
    assert _import(client, first).json()["imported"] == 1
    assert _export(client, cid)["conversations"] == first["conversations"]


def test_an_imported_conversation_goes_on_with_its_history_and_files(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_client(tool_agent(fails_on="break"))
    image = png(rgb=(1, 2, 3))
    cid = new_conversation(client)
    send_files(client, cid, "Look", [uploaded(client, "dot.png", image)])
    document = _export(client, cid)

    recorder = Recorder()
    other = make_client(recorder.agent(), database_url=sqlite_url(tmp_path / "other.db"))
    assert _import(other, document).json()["imported"] == 1
    send(other, cid, "And now?")
    # The model receives the imported turn with the image's bytes, then the new prompt.
    assert [b.data for b in binaries(recorder.calls[-1])] == [image]
    listed = branch(other, cid)
    assert [m["role"] for m in listed] == ["user", "assistant", "user", "assistant"]
    # The image is the importer's own file now.
    (attachment,) = [p for p in listed[0]["parts"] if p["type"] == "attachment"]
    assert other.get(f"/api/files/{attachment['id']}").content == image


def test_importing_the_same_file_twice_adds_nothing(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(tool_agent())
    ids = []
    for prompt in ("one", "two"):
        ids.append(new_conversation(client))
        send(client, ids[-1], prompt)
    everything = client.get("/api/export")
    assert everything.status_code == 200
    document = everything.json()
    assert sorted(c["id"] for c in document["conversations"]) == sorted(ids)
    before = _counts(client)
    again = _import(client, document).json()
    assert (again["imported"], again["skipped"], again["refused"]) == (0, 2, 0)
    assert _counts(client) == before


def test_a_burst_of_the_same_import_writes_each_conversation_once(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(tool_agent())
    # Deleted after its export: import the file six times at once.
    _, document = _exported_then_deleted(client)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: _import(client, document).json(), range(6)))
    assert sorted(a["imported"] for a in answers) == [0, 0, 0, 0, 0, 1]
    assert sum(a["skipped"] for a in answers) == 5
    assert _rows(client, conversations) == 1


def test_a_conversation_that_cannot_be_imported_is_refused_whole_and_the_rest_imported(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(tool_agent())
    _, good = _exported_then_deleted(client)
    (conversation,) = good["conversations"]
    broken = json.loads(json.dumps(conversation)) | {"id": "b" * 32}
    broken["messages"][1]["parent_id"] = "nowhere"
    wrong_role = json.loads(json.dumps(conversation)) | {"id": "c" * 32}
    wrong_role["messages"][1]["role"] = "user"
    bad_history = json.loads(json.dumps(conversation)) | {"id": "d" * 32}
    bad_history["messages"][1]["model_messages"] = [{"kind": "nonsense"}]
    document = good | {"conversations": [broken, conversation, wrong_role, bad_history]}
    answer = _import(client, json.dumps(document).encode())
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["imported"], result["refused"]) == (1, 3)
    details = [r["detail"] for r in result["refusals"]]
    assert [r["index"] for r in result["refusals"]] == [0, 2, 3]
    assert "is not before it" in details[0]
    assert "a prompt must follow a reply" in details[1]
    assert "Pydantic AI messages do not load" in details[2]
    # Only the good one was written: two messages, nothing of the others.
    assert _counts(client)["conversations"] == 1
    assert _counts(client)["messages"] == 2


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"format": "parley", "version": 1, "conversations": [{"id": "a"', "cut short"),
        (b"not json at all", "not valid JSON"),
        (b'{"format": "something-else", "conversations": []}', "not Parley JSON"),
        (b'{"format": "parley", "version": 2, "conversations": []}', "version 2"),
        (b"[1, 2, 3]", "neither a mapping nor chat_messages"),
        (b"[]", "no conversations"),
        (b'{"hello": "world"}', "not an export Parley knows"),
        (b"", "no file"),
        # 100,000 lists deep in 200 kB: refused before any parser builds anything of it.
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested more than 128 levels"),
    ],
)
def test_a_file_that_is_not_an_export_is_refused_with_what_is_wrong_and_nothing_written(
    make_client: Callable[..., TestClient], body: bytes, says: str
) -> None:
    client = make_client(tool_agent())
    cid = new_conversation(client)
    send(client, cid, "hello")
    before = _counts(client)
    answer = _import(client, body)
    assert answer.status_code == 422, answer.text
    assert says in answer.json()["detail"]
    assert _counts(client) == before


def test_a_cut_short_export_writes_nothing_even_where_whole_conversations_came_first(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(tool_agent())
    for prompt in ("one", "two", "three"):
        send(client, new_conversation(client), prompt)
    text = client.get("/api/export").content
    for row in client.get("/api/conversations").json()["items"]:
        client.delete(f"/api/conversations/{row['id']}")
    before = _counts(client)
    answer = _import(client, text[: len(text) - 40])
    assert answer.status_code == 422 and "cut short" in answer.json()["detail"]
    assert _counts(client) == before


def clone(conversation: dict[str, Any], number: int, image: bytes | None = None) -> dict[str, Any]:
    """`conversation` under new ids (its messages' too); with `image`, its one file's bytes
    replaced by those."""
    text = json.dumps(conversation)
    ids = [conversation["id"], *(m["id"] for m in conversation["messages"])]
    for k, old in enumerate(ids):
        text = text.replace(old, f"{number:016x}{k:016x}")
    copy: dict[str, Any] = json.loads(text)
    if image is not None:
        (f,) = copy["files"]
        f |= {
            "data": base64.b64encode(image).decode(),
            "sha256": hashlib.sha256(image).hexdigest(),
            "size": len(image),
        }
    return copy


def test_a_100_mb_file_is_imported_as_a_stream_and_refused_past_the_limit(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(tool_agent())
    cid = new_conversation(client)
    send_files(client, cid, "Look", [uploaded(client, "photo.png", png())])
    (conversation,) = _export(client, cid)["conversations"]
    assert client.delete(f"/api/conversations/{cid}").status_code == 204
    # Sixteen conversations, each sending a 5 MB image that does not compress: over 100 MB
    # of JSON once base64-encoded.
    many = [clone(conversation, i, big_png(5_000_000)) for i in range(16)]
    body = json.dumps({"format": "parley", "version": 1, "conversations": many}).encode()
    assert len(body) > 100_000_000
    limited = make_client(tool_agent(), max_import_bytes=50_000_000)
    before = _counts(limited)
    refused = _import(limited, body)
    assert refused.status_code == 413 and "50 MB" in refused.json()["detail"]
    assert _counts(limited) == before
    answer = _import(client, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["imported"] == 16
    assert _counts(client)["files"] == 16


def test_text_a_database_cannot_store_is_cleaned_on_import(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(tool_agent())
    cid, document = _exported_then_deleted(client)
    (conversation,) = document["conversations"]
    conversation["title"] = "MARK-TITLE"
    conversation["messages"][0]["text"] = "MARK-TEXT"
    # Escapes JSON allows and no database stores: NUL, and half of a surrogate pair.
    text = json.dumps(document).replace('"MARK-TEXT"', '"hel\\u0000lo \\ud800"')
    text = text.replace('"MARK-TITLE"', '"x\\udfff"')
    answer = _import(client, text.encode())
    assert answer.json()["imported"] == 1, answer.text
    (user, _reply) = branch(client, cid)
    assert user["text"] == "hello \ufffd"
    assert client.get(f"/api/conversations/{cid}").json()["title"] == "x\ufffd"
