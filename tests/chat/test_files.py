"""Files and images in a prompt: what the model receives, what is stored, what is refused,
who may see a file, and what deleting takes with it. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic_ai.messages import BinaryContent

from parley.accounts.store import Accounts
from parley.chat.files import FileRefused, FileStore
from parley.db.tables import files, message_files, messages

from ..support.client import new_conversation, regenerate
from ..support.files import (
    Recorder,
    binaries,
    pdf,
    png,
    prompt_items,
    send_files,
    upload,
    uploaded,
)

PASSWORD = "correct horse battery"


def _rows(client: TestClient, query: Any) -> list[Any]:
    engine = client.app.state.services.store.engine  # type: ignore[attr-defined]

    async def run() -> list[Any]:
        async with engine.connect() as conn:
            return list((await conn.execute(query)).all())

    return client.portal.call(run)  # type: ignore[union-attr]


def test_an_image_and_a_pdf_reach_the_model_as_bytes_stored_apart_from_the_json(
    make_client: Callable[..., TestClient],
) -> None:
    recorder = Recorder()
    client = make_client(recorder.agent())
    image, document = png(), pdf("Quarterly report")
    image_id = uploaded(client, "cat.png", image)
    document_id = uploaded(client, "report.pdf", document)
    cid = new_conversation(client)

    frames = send_files(client, cid, "What are these?", [image_id, document_id])
    sent = binaries(recorder.calls[-1])
    assert [(b.media_type, b.data) for b in sent] == [
        ("image/png", image),
        ("application/pdf", document),
    ]
    # The user's message lists its attachments, as the UI shows them.
    user = frames[0].data["message"]
    assert [p for p in user["parts"] if p["type"] == "attachment"] == [
        {
            "type": "attachment",
            "id": image_id,
            "name": "cat.png",
            "media_type": "image/png",
            "size": len(image),
            "sent_as": "file",
        },
        {
            "type": "attachment",
            "id": document_id,
            "name": "report.pdf",
            "media_type": "application/pdf",
            "size": len(document),
            "sent_as": "file",
        },
    ]

    # The stored JSON holds references, not the bytes.
    stored = _rows(client, sa.select(messages.c.role, messages.c.model_messages))
    for _role, text in stored:
        assert base64.b64encode(image).decode() not in text
        assert base64.b64encode(document).decode() not in text
        assert "Quarterly" not in text
    (user_json,) = [text for role, text in stored if role == "user"]
    items = json.loads(user_json)[0]["parts"][-1]["content"]
    assert [i["data"] for i in items if isinstance(i, dict)] == ["", ""]
    # Each file's bytes once, in the files table.
    assert sorted(r[0] for r in _rows(client, sa.select(files.c.size))) == sorted(
        [len(image), len(document)]
    )

    # The next turn's history (from the history cache) carries the same bytes.
    send_files(client, cid, "And now?", [])
    assert [b.data for b in binaries(recorder.calls[-1])] == [image, document]
    # So does a new app on the same database (the history read from the database) ...
    again = Recorder()
    fresh = make_client(again.agent())
    send_files(fresh, cid, "Still there?", [])
    assert [b.data for b in binaries(again.calls[-1])] == [image, document]
    # ... and regenerating the reply to the prompt with files.
    listed = fresh.get(f"/api/conversations/{cid}/messages").json()["items"]
    regenerate(fresh, cid, listed[1]["id"])
    assert [b.data for b in binaries(again.calls[-1])] == [image, document]
    assert isinstance(prompt_items(again.calls[-1])[1], BinaryContent)


def test_a_pdf_goes_as_its_text_to_a_model_without_document_input(
    make_client: Callable[..., TestClient],
) -> None:
    recorder = Recorder()
    client = make_client(recorder.agent(supports_document_input=False))
    document_id = uploaded(client, "notes.pdf", pdf("The launch is on Tuesday"))
    text_id = uploaded(client, "list.md", b"# Groceries\n- eggs\n")
    cid = new_conversation(client)
    frames = send_files(client, cid, "Summarise", [document_id, text_id])
    items = prompt_items(recorder.calls[-1])
    assert not binaries(recorder.calls[-1])
    assert items[0] == "Summarise"
    assert "The launch is on Tuesday" in items[1] and '"notes.pdf"' in items[1]
    assert "# Groceries\n- eggs" in items[2]
    sent_as = [p["sent_as"] for p in frames[0].data["message"]["parts"][1:]]
    assert sent_as == ["text", "text"]


def test_an_image_for_a_model_that_cannot_see_is_refused_before_sending(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Recorder().agent(supports_image_input=False))
    image_id = uploaded(client, "cat.png", png())
    cid = new_conversation(client)
    response = client.post(
        f"/api/conversations/{cid}/messages", json={"prompt": "hi", "files": [image_id]}
    )
    assert response.status_code == 415
    assert "cannot see images" in response.json()["detail"]
    assert client.get(f"/api/conversations/{cid}/messages").json()["items"] == []


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("cat.png", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200)),  # a Windows executable
        ("cat.png", b"PK\x03\x04" + bytes(100)),  # a zip
        ("notes.txt", "café".encode("latin-1")),  # text, but not UTF-8
        ("notes.txt", b"text with a \x00 in it"),
    ],
)
def test_what_the_bytes_are_decides_not_the_name_or_claimed_type(
    make_client: Callable[..., TestClient], name: str, data: bytes
) -> None:
    client = make_client(Recorder().agent())
    response = upload(client, name, data, content_type="image/png")
    assert response.status_code == 415
    assert "can be attached" in response.json()["detail"]
    assert _rows(client, sa.select(files.c.id)) == []


def test_an_empty_file_is_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Recorder().agent())
    assert upload(client, "empty.txt", b"").status_code == 422


def test_size_limits_are_each_a_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(
        Recorder().agent(), max_file_bytes=2_000, max_files_per_message=2, max_body_bytes=10_000
    )
    just_over = upload(client, "big.txt", b"a" * 2_001)
    assert just_over.status_code == 413
    assert just_over.json()["detail"] == "A file may be at most 0.002 MB."
    # Far larger: refused before the body is read, with the same sentence.
    far_over = upload(client, "huge.txt", b"a" * 200_000)
    assert far_over.status_code == 413
    assert far_over.json()["detail"] == "A file may be at most 0.002 MB."
    # Within the file limit but over the body limit of other requests: accepted.
    assert upload(client, "ok.txt", b"b" * 2_000).status_code == 201

    ids = [uploaded(client, f"{n}.txt", f"file {n}".encode()) for n in range(3)]
    cid = new_conversation(client)
    too_many = client.post(
        f"/api/conversations/{cid}/messages", json={"prompt": "hi", "files": ids}
    )
    assert too_many.status_code == 413
    assert too_many.json()["detail"] == "A message may carry at most 2 files."


def test_a_burst_of_uploads_does_not_exceed_the_storage_per_user(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Recorder().agent(), max_storage_per_user=3_500)
    store = FileStore(
        client.app.state.services.store.engine,  # type: ignore[attr-defined]
        max_file_bytes=10_000,
        max_storage=3_500,
    )

    async def burst() -> list[int]:
        async def one(n: int) -> int:
            try:
                await store.save("local", f"{n}.txt", f"{n:04d}".encode() * 250)
            except FileRefused as exc:
                return exc.status
            return 201

        return list(await asyncio.gather(*(one(n) for n in range(12))))

    statuses = client.portal.call(burst)  # type: ignore[union-attr]
    assert sorted(statuses) == [201] * 3 + [413] * 9
    assert sum(r[0] for r in _rows(client, sa.select(files.c.size))) == 3_000
    # Through HTTP the same sentence.
    refused = upload(client, "more.txt", b"z" * 1_000)
    assert refused.status_code == 413
    assert "more than 0.0035 MB" in refused.json()["detail"]
    # The same bytes again are the same file: no more storage, the same id.
    first = upload(client, "a.txt", b"x" * 100)
    second = upload(client, "b.txt", b"x" * 100)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]


def test_a_file_is_served_to_its_owner_only(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Recorder().agent(), auth="accounts")
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    tokens = {}
    for name in ("alice", "bob"):
        user = client.portal.call(accounts.add_user, name, PASSWORD)  # type: ignore[union-attr]
        _, tokens[name] = client.portal.call(accounts.create_token, user, "t")  # type: ignore[union-attr]

    def auth(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}"}

    image = png()
    made = upload(client, "alice.png", image, headers=auth("alice"))
    assert made.status_code == 201
    file_id = made.json()["id"]
    assert client.get(f"/api/files/{file_id}", headers=auth("alice")).content == image
    assert client.get(f"/api/files/{file_id}", headers=auth("bob")).status_code == 404
    assert client.get(f"/api/files/{file_id}").status_code == 401
    # Bob cannot send it either, even by uploading the same bytes: he gets his own file.
    cid = client.post("/api/conversations", json={}, headers=auth("bob")).json()["id"]
    stolen = client.post(
        f"/api/conversations/{cid}/messages",
        json={"prompt": "hi", "files": [file_id]},
        headers=auth("bob"),
    )
    assert stolen.status_code == 404
    bobs = upload(client, "bob.png", image, headers=auth("bob")).json()["id"]
    assert bobs != file_id

    # Removing a user removes their files.
    client.portal.call(accounts.remove_user, "alice")  # type: ignore[union-attr]
    assert [r[0] for r in _rows(client, sa.select(files.c.id))] == [bobs]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ],
)
def test_a_cross_site_upload_is_refused(
    make_client: Callable[..., TestClient], headers: dict[str, str]
) -> None:
    client = make_client(Recorder().agent())
    response = upload(client, "cat.png", png(), headers=headers)
    assert response.status_code == 403
    assert _rows(client, sa.select(files.c.id)) == []


def test_a_form_like_upload_without_the_custom_header_is_refused(
    make_client: Callable[..., TestClient],
) -> None:
    """What an HTML form on another site could send when the browser names no origin."""
    client = make_client(Recorder().agent())
    form = client.post("/api/files", files={"file": ("cat.png", png(), "image/png")})
    assert form.status_code == 403
    assert "x-parley-upload" in form.json()["detail"]
    # Multipart is taken on the upload route only.
    elsewhere = client.post(
        "/api/conversations",
        files={"file": ("cat.png", png(), "image/png")},
        headers={"X-Parley-Upload": "1"},
    )
    assert elsewhere.status_code == 415
    assert _rows(client, sa.select(files.c.id)) == []


def test_only_raster_images_are_served_inline(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Recorder().agent())
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    svg_upload = upload(client, "evil.svg", svg, content_type="image/svg+xml")
    assert svg_upload.status_code == 201
    assert svg_upload.json()["media_type"] == "text/plain"
    served = client.get(f"/api/files/{svg_upload.json()['id']}")
    assert served.content == svg
    assert served.headers["content-type"].startswith("text/plain")
    assert served.headers["content-disposition"].startswith("attachment;")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]

    pdf_id = uploaded(client, "a.pdf", pdf("x"))
    assert (
        client.get(f"/api/files/{pdf_id}").headers["content-disposition"].startswith("attachment;")
    )
    image_id = uploaded(client, "C:\\photos\\café.png", png())
    image = client.get(f"/api/files/{image_id}")
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"] == (
        "inline; filename=\"caf_.png\"; filename*=UTF-8''caf%C3%A9.png"
    )
    assert image.headers["x-content-type-options"] == "nosniff"
    assert "sandbox; default-src 'none'" in image.headers.get_list("content-security-policy")
    assert client.get("/api/files/nothing-here").status_code == 404


def test_deleting_a_conversation_deletes_the_files_nothing_else_uses(
    make_client: Callable[..., TestClient],
) -> None:
    recorder = Recorder()
    client = make_client(recorder.agent())
    shared, own, unsent = png(rgb=(1, 2, 3)), png(rgb=(4, 5, 6)), png(rgb=(7, 8, 9))
    shared_id, own_id = uploaded(client, "s.png", shared), uploaded(client, "o.png", own)
    unsent_id = uploaded(client, "u.png", unsent)
    first = new_conversation(client)
    send_files(client, first, "one", [shared_id])
    send_files(client, first, "two", [own_id])
    items = client.get(f"/api/conversations/{first}/messages").json()["items"]
    fork = client.post(
        f"/api/conversations/{first}/fork", json={"message_id": items[1]["id"]}
    ).json()["id"]

    assert client.delete(f"/api/conversations/{first}").status_code == 204
    left = {r[0] for r in _rows(client, sa.select(files.c.id))}
    assert left == {shared_id, unsent_id}
    # The fork still sends the shared file with its history.
    send_files(client, fork, "three", [])
    assert [b.data for b in binaries(recorder.calls[-1])] == [shared]

    assert client.delete(f"/api/conversations/{fork}").status_code == 204
    assert {r[0] for r in _rows(client, sa.select(files.c.id))} == {unsent_id}
    assert _rows(client, sa.select(message_files.c.file_id)) == []
