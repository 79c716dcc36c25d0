"""Share links through the HTTP API, on SQLite and PostgreSQL: sharing, "Update link" (same id
and url, new snapshot), revoking (404 at once, and across two `parley serve` processes),
listing, who may view or change what (owners, other users, anonymous visitors, in accounts
mode with and without PARLEY_PUBLIC_SHARES, and local mode), a share id used anywhere else,
the page's headers and markup, files only when the owner included them, and "Continue in my
chats" making a copy that owes the original nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic_ai.messages import ModelMessagesTypeAdapter

from parley.accounts.store import Accounts
from parley.web.security import CSP

from ..support.cli import add_user, create_token, migrate
from ..support.client import branch, new_conversation, saved_messages, send
from ..support.files import Recorder, binaries, pdf, png, send_files, uploaded
from ..support.models import Echo, prompts_of, reply_to
from ..support.processes import Server, settings_env, side_by_side

PASSWORD = "correct horse battery"


@dataclass
class People:
    """An accounts-mode app with alice and bob, each with an API token."""

    client: TestClient
    tokens: dict[str, str]

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, who: str | None, url: str) -> Any:
        return self.client.get(url, headers=self.headers(who), follow_redirects=False)

    def put(self, who: str | None, url: str, body: Any) -> Any:
        return self.client.put(url, json=body, headers=self.headers(who))

    def post(self, who: str | None, url: str, body: Any) -> Any:
        return self.client.post(url, json=body, headers=self.headers(who))

    def delete(self, who: str | None, url: str) -> Any:
        return self.client.delete(url, headers=self.headers(who))

    def conversation(self, who: str, prompt: str) -> str:
        cid = self.post(who, "/api/conversations", {}).json()["id"]
        with self.client.stream(
            "POST",
            f"/api/conversations/{cid}/messages",
            json={"prompt": prompt},
            headers=self.headers(who),
        ) as response:
            assert response.status_code == 200
            response.read()
        return str(cid)


def _people(make_client: Callable[..., TestClient], agent: Any, **settings: Any) -> People:
    client = make_client(agent, auth="accounts", **settings)
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    tokens: dict[str, str] = {}
    for name in ("alice", "bob"):
        user = client.portal.call(accounts.add_user, name, PASSWORD)  # type: ignore[union-attr]
        _, tokens[name] = client.portal.call(accounts.create_token, user, "tests")  # type: ignore[union-attr]
    return People(client, tokens)


def _share(client: TestClient, cid: str, include_files: bool = False, **kw: Any) -> Any:
    return client.put(
        f"/api/conversations/{cid}/share", json={"include_files": include_files}, **kw
    )


class _Page(HTMLParser):
    """What the tests read of a page: its elements and attributes, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]


# -- sharing, updating, revoking, listing ----------------------------------------------------


def test_share_update_revoke_and_list(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    cid = new_conversation(client)
    send(client, cid, "first")
    assert client.get(f"/api/conversations/{cid}/share").status_code == 404

    created = _share(client, cid)
    assert created.status_code == 201, created.text
    share = created.json()
    assert share["url"] == f"/s/{share['id']}" and share["conversation_id"] == cid
    assert share["include_files"] is False and share["title"] == "first"
    assert client.get(f"/api/conversations/{cid}/share").json() == share
    shared = client.get(f"/api/shared/{share['id']}").json()
    assert [m.get("text") for m in shared["messages"]] == ["first", None]
    assert shared["messages"][1]["parts"][0]["html"].startswith("<p>You said: <strong>first")
    assert shared["can_continue"] is True

    # "Update link": the same id and url, the conversation as it is now.
    send(client, cid, "second")
    updated = _share(client, cid, include_files=True)
    assert updated.status_code == 200
    again = updated.json()
    assert (again["id"], again["url"], again["created_at"]) == (
        share["id"],
        share["url"],
        share["created_at"],
    )
    assert again["updated_at"] >= share["updated_at"] and again["include_files"] is True
    texts = [m.get("text") for m in client.get(f"/api/shared/{share['id']}").json()["messages"]]
    assert texts == ["first", None, "second", None]
    assert "second" in client.get(share["url"]).text

    other = new_conversation(client)
    send(client, other, "other")
    other_share = _share(client, other).json()
    listed = client.get("/api/shares").json()["items"]
    assert [s["id"] for s in listed] == [other_share["id"], share["id"]]

    # Revoked: gone at once, everywhere a viewer could look.
    assert client.delete(f"/api/shares/{share['id']}").status_code == 204
    assert client.get(share["url"]).status_code == 404
    assert client.get(f"/api/shared/{share['id']}").status_code == 404
    assert client.post(f"/api/shared/{share['id']}/continue", json={}).status_code == 404
    assert client.get(f"/api/conversations/{cid}/share").status_code == 404
    assert client.delete(f"/api/shares/{share['id']}").status_code == 404
    assert [s["id"] for s in client.get("/api/shares").json()["items"]] == [other_share["id"]]
    # The conversation itself is untouched; sharing it again is a new link.
    assert client.get(f"/api/conversations/{cid}").status_code == 200
    assert _share(client, cid).json()["id"] != share["id"]

    # Deleting the conversation ends its share.
    assert client.delete(f"/api/conversations/{other}").status_code == 204
    assert client.get(other_share["url"]).status_code == 404


def test_a_conversation_of_no_one_cannot_be_shared(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    assert _share(client, "no-such-conversation").status_code == 404
    cid = new_conversation(client)
    refused = client.put(f"/api/conversations/{cid}/share", json={"include_files": [1]})
    assert refused.status_code == 422
    assert client.get("/api/shares").json() == {"items": []}


# -- who may do what --------------------------------------------------------------------------


def test_another_user_cannot_see_change_or_revoke_my_share(
    make_client: Callable[..., TestClient],
) -> None:
    people = _people(make_client, Echo().agent())
    cid = people.conversation("alice", "alice's secret")
    share = people.put("alice", f"/api/conversations/{cid}/share", {"include_files": False}).json()

    assert people.get("bob", f"/api/conversations/{cid}/share").status_code == 404
    refresh = people.put("bob", f"/api/conversations/{cid}/share", {"include_files": True})
    assert refresh.status_code == 404
    assert people.delete("bob", f"/api/shares/{share['id']}").status_code == 404
    assert people.get("bob", "/api/shares").json() == {"items": []}
    # Nothing changed for alice.
    assert people.get("alice", f"/api/conversations/{cid}/share").json() == share
    # What bob may do is what any logged-in user may: view the share, and nothing else of
    # alice's through it.
    viewed = people.get("bob", f"/api/shared/{share['id']}").json()
    assert viewed["messages"][0]["text"] == "alice's secret"
    assert cid not in json.dumps(viewed)
    assert people.get("bob", f"/api/conversations/{cid}").status_code == 404
    # Anonymous: nothing of the owner's API either.
    assert people.get(None, "/api/shares").status_code == 401
    assert people.get(None, f"/api/conversations/{cid}/share").status_code == 401
    assert people.delete(None, f"/api/shares/{share['id']}").status_code == 401


def test_without_public_shares_a_visitor_must_log_in(
    make_client: Callable[..., TestClient],
) -> None:
    people = _people(make_client, Echo().agent())
    cid = people.conversation("alice", "hello")
    share = people.put("alice", f"/api/conversations/{cid}/share", {"include_files": True}).json()

    for share_id in (share["id"], "no-such-share"):
        # The same answer whether the id exists or not: nothing to learn by guessing.
        page = people.get(None, f"/s/{share_id}")
        assert page.status_code == 303
        assert page.headers["location"] == f"/login?next=/s/{share_id}"
        assert people.get(None, f"/api/shared/{share_id}").status_code == 401
        assert people.get(None, f"/s/{share_id}/files/x").status_code == 401
        assert people.post(None, f"/api/shared/{share_id}/continue", {}).status_code == 401
    # Any logged-in user may view and continue.
    assert people.get("bob", share["url"]).status_code == 200
    assert people.get("bob", f"/api/shared/{share['id']}").json()["can_continue"] is True


def test_with_public_shares_anyone_may_view_but_only_users_continue(
    make_client: Callable[..., TestClient],
) -> None:
    people = _people(make_client, Echo().agent(), public_shares=True)
    cid = people.conversation("alice", "hello")
    share = people.put("alice", f"/api/conversations/{cid}/share", {"include_files": False}).json()

    page = people.get(None, share["url"])
    assert page.status_code == 200
    assert "hello" in page.text
    parsed = _Page(page.text)
    assert not [b for b in parsed.all("button") if b.get("id") == "share-continue"]
    assert {"href": f"/login?next=/s/{share['id']}"} in parsed.all("a")
    assert people.get(None, f"/api/shared/{share['id']}").json()["can_continue"] is False
    refused = people.post(None, f"/api/shared/{share['id']}/continue", {})
    assert refused.status_code == 401
    # Public or not, the owner's API still needs a login, and a wrong id is still a 404.
    assert people.get(None, "/api/shares").status_code == 401
    assert people.get(None, "/s/no-such-share").status_code == 404
    # A logged-in visitor gets the button.
    assert 'id="share-continue"' in people.get("bob", share["url"]).text


# -- a share id elsewhere, ids elsewhere here -----------------------------------------------


def test_a_share_id_opens_nothing_but_its_snapshot(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Recorder().agent())
    image_id = uploaded(client, "cat.png", png())
    cid = new_conversation(client)
    send_files(client, cid, "look", [image_id])
    message_id = branch(client, cid)[0]["id"]
    share_id = _share(client, cid, include_files=True).json()["id"]

    for url in (
        f"/api/conversations/{share_id}",
        f"/api/conversations/{share_id}/messages",
        f"/api/conversations/{share_id}/share",
        f"/api/conversations/{share_id}/export",
        f"/api/conversations/{cid}/messages/{share_id}",
        f"/api/files/{share_id}",
    ):
        assert client.get(url).status_code == 404, url
    assert _share(client, share_id).status_code == 404
    assert client.delete(f"/api/conversations/{share_id}").status_code == 404
    # And other ids used as a share id, or as a file of this share.
    for wrong in (cid, message_id, image_id):
        assert client.get(f"/s/{wrong}").status_code == 404
        assert client.get(f"/api/shared/{wrong}").status_code == 404
        assert client.delete(f"/api/shares/{wrong}").status_code == 404
        assert client.post(f"/api/shared/{wrong}/continue", json={}).status_code == 404
    other_file = uploaded(client, "dog.png", png(rgb=(1, 2, 3)))
    for wrong in (other_file, message_id, cid, share_id):
        assert client.get(f"/s/{share_id}/files/{wrong}").status_code == 404
    assert client.get(f"/s/{share_id}/files/{image_id}").status_code == 200


# -- the page ----------------------------------------------------------------------------------


def test_the_page_is_noindex_under_the_strict_csp_and_all_text_escaped(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    cid = new_conversation(client)
    prompt = '<script>alert(1)</script> & "quotes" <img src=x onerror=alert(2)>'
    send(client, cid, prompt)
    share = _share(client, cid).json()

    page = client.get(share["url"])
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["x-robots-tag"] == "noindex, nofollow"
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    parsed = _Page(page.text)
    metas = parsed.all("meta")
    assert {"name": "robots", "content": "noindex, nofollow"} in metas
    assert {"name": "referrer", "content": "no-referrer"} in metas
    assert parsed.all("html") == [{"lang": "en"}]
    assert len(parsed.all("main")) == 1 and len(parsed.all("h1")) == 1
    # Nothing inline for the CSP to refuse: every script and stylesheet is a versioned file.
    version = client.app.state.services.assets.prefix  # type: ignore[attr-defined]
    assert [s["src"] for s in parsed.all("script")] == [f"{version}theme.js", f"{version}share.js"]
    assert all(str(link["href"]).startswith(version) for link in parsed.all("link"))
    assert parsed.all("style") == []
    assert not [attrs for _tag, attrs in parsed.elements if "style" in attrs]
    assert not [a for _t, attrs in parsed.elements for a in attrs if a.startswith("on")]
    # The prompt shows as the text it is, in the title, the heading and the message.
    assert parsed.all("img") == []
    assert "".join(parsed.text).count(prompt) >= 3
    for served in (f"{version}share.js", f"{version}share.css", f"{version}style.css"):
        assert client.get(served).status_code == 200

    # The API's answers are not for search engines or caches either.
    api = client.get(f"/api/shared/{share['id']}")
    assert api.headers["x-robots-tag"] == "noindex, nofollow"
    assert api.headers["cache-control"] == "no-store"
    missing = client.get("/s/nothing-here")
    assert missing.status_code == 404 and missing.headers["x-robots-tag"] == "noindex, nofollow"
    assert {"name": "robots", "content": "noindex, nofollow"} in _Page(missing.text).all("meta")


def test_files_are_shown_and_served_only_when_included(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Recorder().agent())
    image, document = png(), pdf("Notes")
    image_id = uploaded(client, "holiday.png", image)
    document_id = uploaded(client, "notes.pdf", document)
    cid = new_conversation(client)
    send_files(client, cid, "look", [image_id, document_id])

    share = _share(client, cid).json()
    image_url = f"/s/{share['id']}/files/{image_id}"
    document_url = f"/s/{share['id']}/files/{document_id}"
    page = client.get(share["url"]).text
    assert "An image (not shared)" in page and "A file (not shared)" in page
    assert "holiday.png" not in page and f"{share['id']}/files/" not in page
    assert client.get(image_url).status_code == 404
    assert client.get(document_url).status_code == 404

    _share(client, cid, include_files=True)
    page = client.get(share["url"]).text
    assert "(not shared)" not in page
    # Named relative to the page (/s/<id>), so the page works wherever Parley is mounted.
    relative = image_url.removeprefix("/s/")
    assert {"class": "file-chip__thumb", "src": relative, "alt": "", "loading": "lazy"} in (
        _Page(page).all("img")
    )
    served = client.get(image_url)
    assert served.content == image
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"].startswith("inline;")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["x-robots-tag"] == "noindex, nofollow"
    assert "sandbox; default-src 'none'" in served.headers.get_list("content-security-policy")
    download = client.get(document_url)
    assert download.content == document
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")

    # "Update link" without files takes them back at once; revoking ends everything.
    _share(client, cid, include_files=False)
    assert client.get(image_url).status_code == 404
    _share(client, cid, include_files=True)
    assert client.delete(f"/api/shares/{share['id']}").status_code == 204
    assert client.get(image_url).status_code == 404


# -- Continue in my chats --------------------------------------------------------------------


def test_continuing_makes_a_copy_that_owes_the_original_nothing(
    make_client: Callable[..., TestClient],
) -> None:
    echo = Echo()
    people = _people(make_client, echo.agent())
    cid = people.conversation("alice", "first")
    with people.client.stream(
        "POST",
        f"/api/conversations/{cid}/messages",
        json={"prompt": "second"},
        headers=people.headers("alice"),
    ) as response:
        response.read()
    share = people.put("alice", f"/api/conversations/{cid}/share", {"include_files": False}).json()
    snapshot = people.get("bob", f"/api/shared/{share['id']}").json()

    made = people.post("bob", f"/api/shared/{share['id']}/continue", {})
    assert made.status_code == 201, made.text
    copy = made.json()
    assert copy["id"] != cid and copy["title"] == "first"
    listed = people.get("bob", "/api/conversations").json()["items"]
    assert [c["id"] for c in listed] == [copy["id"]]

    def exported(who: str, conversation_id: str) -> list[dict[str, Any]]:
        response = people.get(who, f"/api/conversations/{conversation_id}/export")
        assert response.status_code == 200, response.text
        (conversation,) = response.json()["conversations"]
        messages: list[dict[str, Any]] = conversation["messages"]
        return messages

    copied = exported("bob", copy["id"])
    original = exported("alice", cid)
    assert [m["text"] for m in copied] == ["first", reply_to("first"), "second", reply_to("second")]
    assert not {m["id"] for m in copied} & {m["id"] for m in snapshot["messages"]}
    # The model gets the same history in the copy as in the original.
    assert [ModelMessagesTypeAdapter.validate_python(m["model_messages"]) for m in copied] == [
        ModelMessagesTypeAdapter.validate_python(m["model_messages"]) for m in original
    ]

    # Changing the original, revoking the share and deleting the original leave it as it is.
    people.conversation("alice", "unrelated")
    with people.client.stream(
        "POST",
        f"/api/conversations/{cid}/messages",
        json={"prompt": "third"},
        headers=people.headers("alice"),
    ) as response:
        response.read()
    assert people.delete("alice", f"/api/shares/{share['id']}").status_code == 204
    assert people.delete("alice", f"/api/conversations/{cid}").status_code == 204
    assert exported("bob", copy["id"]) == copied

    # And bob goes on with it: the model receives the conversation so far.
    with people.client.stream(
        "POST",
        f"/api/conversations/{copy['id']}/messages",
        json={"prompt": "go on"},
        headers=people.headers("bob"),
    ) as response:
        assert response.status_code == 200
        response.read()
    assert prompts_of(echo.calls[-1]) == ["first", "second", "go on"]


def test_continuing_copies_files_only_when_included(
    make_client: Callable[..., TestClient],
) -> None:
    recorder = Recorder()
    client = make_client(recorder.agent())
    image = png()
    image_id = uploaded(client, "cat.png", image)
    cid = new_conversation(client)
    send_files(client, cid, "look", [image_id])

    share_id = _share(client, cid, include_files=True).json()["id"]
    with_files = client.post(f"/api/shared/{share_id}/continue", json={}).json()["id"]
    (attachment,) = [p for p in branch(client, with_files)[0]["parts"] if p["type"] == "attachment"]
    assert client.get(f"/api/files/{attachment['id']}").content == image
    send_files(client, with_files, "again", [])
    assert [item.data for item in binaries(recorder.calls[-1])] == [image]

    _share(client, cid, include_files=False)
    without = client.post(f"/api/shared/{share_id}/continue", json={}).json()["id"]
    copied = saved_messages(client, without)[0]
    # Local mode: the viewer is the owner, who has the file already: it is linked, not
    # copied. What the share did not carry is never fetched from anyone else's files.
    assert [p["id"] for p in copied["parts"] if p["type"] == "attachment"] == [image_id]


def test_another_users_copy_without_files_names_them_only(
    make_client: Callable[..., TestClient],
) -> None:
    people = _people(make_client, Recorder().agent())
    image_id = people.client.post(
        "/api/files",
        files={"file": ("secret.png", png())},
        headers={**people.headers("alice"), "X-Parley-Upload": "1"},
    ).json()["id"]
    cid = people.post("alice", "/api/conversations", {}).json()["id"]
    with people.client.stream(
        "POST",
        f"/api/conversations/{cid}/messages",
        json={"prompt": "look", "files": [image_id]},
        headers=people.headers("alice"),
    ) as response:
        response.read()
    share = people.put("alice", f"/api/conversations/{cid}/share", {"include_files": False}).json()
    copy = people.post("bob", f"/api/shared/{share['id']}/continue", {}).json()["id"]
    first = people.get("bob", f"/api/conversations/{copy}/messages").json()["items"][0]
    assert [p["type"] for p in first["parts"]] == ["text", "text"]
    assert people.get("bob", f"/api/files/{image_id}").status_code == 404


# -- several processes ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_share_revoked_through_one_process_is_gone_on_the_other(
    database_url: str, serve: Callable[..., Server]
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process")
    migrate(database_url)
    add_user(database_url, "alice", PASSWORD)
    headers = {"Authorization": f"Bearer {create_token(database_url, 'alice')}"}
    a, b = side_by_side(serve, 2, "--agent", _WEATHER, env=settings_env(auth="accounts"))
    with a.client() as on_a, b.client() as on_b:
        cid = on_a.post("/api/conversations", json={}, headers=headers).json()["id"]
        with on_a.stream(
            "POST", f"/api/conversations/{cid}/messages", json={"prompt": "hi"}, headers=headers
        ) as response:
            assert response.status_code == 200
            response.read()
        share = on_a.put(
            f"/api/conversations/{cid}/share", json={"include_files": False}, headers=headers
        ).json()
        # Both processes serve it, and the one that did not make it has it the same.
        for client in (on_a, on_b):
            assert client.get(share["url"], headers=headers).status_code == 200
            shared = client.get(f"/api/shared/{share['id']}", headers=headers)
            assert shared.json()["messages"][0]["text"] == "hi"
        # Updated on B: A shows the new snapshot at once.
        on_b.patch(f"/api/conversations/{cid}", json={"title": "renamed"}, headers=headers)
        on_b.put(f"/api/conversations/{cid}/share", json={"include_files": False}, headers=headers)
        assert on_a.get(f"/api/shared/{share['id']}", headers=headers).json()["title"] == "renamed"

        assert on_a.delete(f"/api/shares/{share['id']}", headers=headers).status_code == 204
        assert on_b.get(share["url"], headers=headers).status_code == 404
        assert on_b.get(f"/api/shared/{share['id']}", headers=headers).status_code == 404
        continued = on_b.post(f"/api/shared/{share['id']}/continue", json={}, headers=headers)
        assert continued.status_code == 404


_WEATHER = "tests.support.agents_for_cli:weather_agent"
