"""Accounts mode and the request guards: who may do what, on every route."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from parley.accounts.store import Accounts
from parley.db.tables import users
from parley.web.identity import SESSION_COOKIE

from ..support.client import parse_sse
from ..support.models import Echo, Scripted

PASSWORD = "correct horse battery"


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]  # user name -> API token

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def call(self, who: str | None, method: str, url: str, **kwargs: Any) -> Any:
        return self.client.request(method, url, headers=self.headers(who), **kwargs)

    def conversation_with_a_turn(self, who: str) -> tuple[str, str]:
        created = self.call(who, "POST", "/api/conversations", json={})
        cid = created.json()["id"]
        with self.client.stream(
            "POST",
            f"/api/conversations/{cid}/messages",
            json={"prompt": "secret of " + who},
            headers=self.headers(who),
        ) as response:
            frames = parse_sse(response.read().decode())
        return cid, frames[1].data["run_id"]


@pytest.fixture
def world(make_client: Callable[..., TestClient]) -> World:
    client = make_client(Echo().agent(), auth="accounts", metrics=True)
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    tokens: dict[str, str] = {}
    for name in ("alice", "bob"):
        user = client.portal.call(accounts.add_user, name, PASSWORD)  # type: ignore[union-attr]
        _, secret = client.portal.call(accounts.create_token, user, "tests")  # type: ignore[union-attr]
        tokens[name] = secret
    return World(client, tokens)


# -- The authorization matrix, generated from the app's own routes ------------------------------

# How each route must treat a caller. A route added without an entry here fails the suite.
#   open:       anyone may call it
#   owned:      anonymous 401; another user 404 (as if it did not exist); the owner 2xx
#   collection: anonymous 401; another user 2xx but sees nothing of the owner's
#   page:       anonymous is sent to /login; a user gets the page shell (its data is API-only)
#   public:     a static page or document, no data
#   shared:     a shared conversation: anonymous 401 (PARLEY_PUBLIC_SHARES is off), any user
#               2xx (a share link grants its snapshot to whoever has it), and nothing else
#   operator:   the operator's scraper only (PARLEY_METRICS_ALLOWED addresses, or
#               PARLEY_METRICS_TOKEN): 404 to anonymous and to every user, session or API token
MATRIX: dict[tuple[str, str], str] = {
    ("GET", "/api/auth/me"): "open",
    ("POST", "/api/auth/login"): "open",
    ("POST", "/api/auth/logout"): "open",
    ("GET", "/api/info"): "collection",
    ("GET", "/api/models"): "collection",
    ("GET", "/api/usage"): "collection",
    ("GET", "/api/conversations"): "collection",
    ("POST", "/api/conversations"): "collection",
    ("GET", "/api/conversations/{conversation_id}"): "owned",
    ("PATCH", "/api/conversations/{conversation_id}"): "owned",
    ("DELETE", "/api/conversations/{conversation_id}"): "owned",
    ("GET", "/api/conversations/{conversation_id}/export"): "owned",
    ("GET", "/api/conversations/{conversation_id}/usage"): "owned",
    ("GET", "/api/conversations/{conversation_id}/messages"): "owned",
    ("POST", "/api/conversations/{conversation_id}/messages"): "owned",
    ("GET", "/api/conversations/{conversation_id}/messages/{message_id}"): "owned",
    ("POST", "/api/conversations/{conversation_id}/messages/{message_id}/edit"): "owned",
    ("POST", "/api/conversations/{conversation_id}/messages/{message_id}/regenerate"): "owned",
    ("PUT", "/api/conversations/{conversation_id}/branch"): "owned",
    ("POST", "/api/conversations/{conversation_id}/fork"): "owned",
    ("GET", "/api/search"): "collection",
    ("GET", "/api/runs/{run_id}/events"): "owned",
    ("POST", "/api/runs/{run_id}/stop"): "owned",
    ("GET", "/api/tokens"): "collection",
    ("POST", "/api/tokens"): "collection",
    ("DELETE", "/api/tokens/{token_id}"): "owned",
    ("POST", "/api/files"): "collection",
    ("GET", "/api/tools"): "collection",
    ("GET", "/api/files/{file_id}"): "owned",
    ("POST", "/api/conversations/{conversation_id}/messages/{message_id}/approvals"): "owned",
    ("GET", "/api/export"): "collection",
    ("POST", "/api/import"): "collection",
    ("GET", "/api/conversations/{conversation_id}/share"): "owned",
    ("PUT", "/api/conversations/{conversation_id}/share"): "owned",
    ("GET", "/api/shares"): "collection",
    ("DELETE", "/api/shares/{share_id}"): "owned",
    ("GET", "/api/shared/{share_id}"): "shared",
    ("POST", "/api/shared/{share_id}/continue"): "shared",
    ("GET", "/s/{share_id}/files/{file_id}"): "shared",
    ("GET", "/s/{share_id}"): "page",
    ("PUT", "/api/conversations/{conversation_id}/messages/{message_id}/feedback"): "owned",
    ("DELETE", "/api/conversations/{conversation_id}/messages/{message_id}/feedback"): "owned",
    ("GET", "/api/feedback"): "collection",
    ("GET", "/api/conversations/{conversation_id}/messages/{message_id}/inspect"): "owned",
    # The other protocols name the conversation in the body: another user's is a 404 too.
    ("POST", "/api/vercel-ai/chat"): "owned",
    ("GET", "/api/vercel-ai/chat/{conversation_id}/stream"): "owned",
    ("GET", "/api/vercel-ai/chat/{conversation_id}/messages"): "owned",
    ("POST", "/api/ag-ui"): "owned",
    ("GET", "/api/ag-ui/{thread_id}/messages"): "owned",
    ("GET", "/"): "page",
    ("GET", "/c/{conversation_id}"): "page",
    ("GET", "/login"): "public",
    ("GET", "/assets/{version}/{name:path}"): "public",
    ("GET", "/static/{name:path}"): "public",
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/healthz"): "public",
    ("GET", "/readyz"): "public",
    ("GET", "/metrics"): "operator",
}

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/conversations/{conversation_id}"): {"title": "renamed"},
    ("POST", "/api/conversations/{conversation_id}/messages"): {"prompt": "hello"},
    ("POST", "/api/conversations/{conversation_id}/messages/{message_id}/edit"): {
        "prompt": "hello again"
    },
    # "{message_id}" is replaced by the message the route is called on.
    ("PUT", "/api/conversations/{conversation_id}/branch"): {"message_id": "{message_id}"},
    ("POST", "/api/conversations/{conversation_id}/fork"): {"message_id": "{message_id}"},
    ("POST", "/api/conversations"): {},
    ("POST", "/api/tokens"): {"name": "another"},
    ("POST", "/api/runs/{run_id}/stop"): {},
    ("POST", "/api/auth/logout"): {},
    ("POST", "/api/conversations/{conversation_id}/messages/{message_id}/approvals"): {
        "decisions": [{"tool_call_id": "call", "approve": True}]
    },
    ("POST", "/api/auth/login"): {"name": "alice", "password": PASSWORD},
    ("PUT", "/api/conversations/{conversation_id}/share"): {"include_files": False},
    ("POST", "/api/shared/{share_id}/continue"): {},
    ("POST", "/api/import"): {"format": "parley", "version": 1, "conversations": []},
    ("PUT", "/api/conversations/{conversation_id}/messages/{message_id}/feedback"): {
        "rating": "good",
        "comment": "secret of alice's rating",
    },
    # "{conversation_id}" is replaced by alice's conversation.
    ("POST", "/api/vercel-ai/chat"): {
        "id": "{conversation_id}",
        "trigger": "submit-message",
        "messages": [{"id": "m", "role": "user", "parts": [{"type": "text", "text": "hello"}]}],
    },
    ("POST", "/api/ag-ui"): {
        "threadId": "{conversation_id}",
        "runId": "run",
        "messages": [{"id": "m", "role": "user", "content": "hello"}],
    },
}


QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/api/search"): {"q": "secret"},
}

UPLOAD = {"X-Parley-Upload": "1"}

# Routes on a reply rather than a prompt: they are called on the turn's assistant message.
ON_A_REPLY = {
    ("POST", "/api/conversations/{conversation_id}/messages/{message_id}/regenerate"),
    ("POST", "/api/conversations/{conversation_id}/messages/{message_id}/approvals"),
    ("PUT", "/api/conversations/{conversation_id}/messages/{message_id}/feedback"),
    ("DELETE", "/api/conversations/{conversation_id}/messages/{message_id}/feedback"),
    ("GET", "/api/conversations/{conversation_id}/messages/{message_id}/inspect"),
}
# Routes whose owner's call finds nothing to do in this world (a reply waiting on no tool
# call): the owner gets this status, not a success, after passing the same authorization.
OWNER_STATUS = {
    ("POST", "/api/conversations/{conversation_id}/messages/{message_id}/approvals"): 409,
    # Alice's conversation sent no file: a file id reaches only the files of the snapshot
    # (tests/web/test_shares.py serves them).
    ("GET", "/s/{share_id}/files/{file_id}"): 404,
}


def _routes(client: TestClient) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if route.methods and route.path:  # the mounts (API docs' files) serve no data
            found |= {(m, route.path) for m in route.methods if m != "HEAD"}
    return found


def test_every_route_has_an_entry_in_the_matrix(world: World) -> None:
    assert _routes(world.client) == set(MATRIX)


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_the_authorization_matrix(world: World, method: str, path: str) -> None:
    kind = MATRIX[(method, path)]
    cid, run_id = world.conversation_with_a_turn("alice")
    token_id = world.call("alice", "GET", "/api/tokens").json()["items"][0]["id"]
    listed = world.call("alice", "GET", f"/api/conversations/{cid}/messages").json()
    message_id = listed["items"][1 if (method, path) in ON_A_REPLY else 0]["id"]
    # The front end's files: one of them, of this version.
    version = world.client.app.state.services.assets.version  # type: ignore[attr-defined]
    path = path.replace("{name:path}", "style.css").replace("{version}", version)
    # A file of alice's (tests/chat/test_files.py covers files further).
    file_id = world.client.post(
        "/api/files",
        files={"file": ("a.txt", b"alice's notes")},
        headers={**world.headers("alice"), **UPLOAD},
    ).json()["id"]
    # A share of alice's conversation (its own tests: tests/web/test_shares.py).
    share = world.call(
        "alice", "PUT", f"/api/conversations/{cid}/share", json={"include_files": False}
    )
    assert share.status_code == 201, share.text
    url = path.format(
        share_id=share.json()["id"],
        conversation_id=cid,
        thread_id=cid,
        run_id=run_id,
        token_id=token_id,
        message_id=message_id,
        file_id=file_id,
    )
    body = BODIES.get((method, path))
    kwargs: dict[str, Any] = {"params": QUERIES.get((method, path), {})}
    if body is not None:
        kwargs["json"] = {
            k: v.format(message_id=message_id, conversation_id=cid) if isinstance(v, str) else v
            for k, v in body.items()
        }

    if (method, path) == ("POST", "/api/files"):
        kwargs |= {"files": {"file": ("b.txt", b"more notes")}, "headers": UPLOAD}

    def call(who: str | None) -> Any:
        if "headers" in kwargs:  # an upload: the caller's credentials and the upload header
            extra = {k: v for k, v in kwargs.items() if k != "headers"}
            headers = {**world.headers(who), **kwargs["headers"]}
            return world.client.request(
                method, url, headers=headers, follow_redirects=False, **extra
            )
        return world.call(who, method, url, follow_redirects=False, **kwargs)

    if kind == "open" or kind == "public":
        assert call(None).status_code < 400
        return
    if kind == "operator":
        assert [call(who).status_code for who in (None, "bob", "alice")] == [404, 404, 404]
        return
    if kind == "page":
        anonymous = call(None)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login?next=")
        assert call("bob").status_code == 200
        return
    assert call(None).status_code == 401
    other = call("bob")
    if kind == "shared":
        # Whoever has the link sees the snapshot, and nothing more (tests/web/test_shares.py).
        expected = OWNER_STATUS.get((method, path))
        if expected is not None:
            assert other.status_code == expected, other.text
        else:
            assert other.status_code < 300, other.text
        return
    if kind == "owned":
        assert other.status_code == 404, other.text
        # Nothing of alice's changed: her conversation, turn and token are all still there.
        assert world.call("alice", "GET", f"/api/conversations/{cid}").status_code == 200
        messages = world.call("alice", "GET", f"/api/conversations/{cid}/messages").json()
        assert messages["items"][0]["text"] == "secret of alice"
        assert world.call("alice", "GET", "/api/tokens").json()["items"][0]["id"] == token_id
    else:
        assert other.status_code < 300
        assert cid not in other.text
        assert "secret of alice" not in other.text
        assert token_id not in other.text
    expected = OWNER_STATUS.get((method, path))
    if expected is not None:
        assert call("alice").status_code == expected
    else:
        assert call("alice").status_code < 300


def test_another_user_cannot_search_list_or_export(world: World) -> None:
    cid, _ = world.conversation_with_a_turn("alice")
    listed = world.call("bob", "GET", "/api/conversations").json()["items"]
    assert listed == []
    for query in ("secret", "alice", "secr", '"secret of"'):
        found = world.call("bob", "GET", "/api/search", params={"q": query})
        assert found.status_code == 200 and found.json()["items"] == []
        mine = world.call("alice", "GET", "/api/search", params={"q": query}).json()["items"]
        assert [r["conversation"]["id"] for r in mine] == [cid]
    for fmt in ("json", "markdown"):
        url = f"/api/conversations/{cid}/export?format={fmt}"
        assert world.call("bob", "GET", url).status_code == 404
        mine = world.call("alice", "GET", url)
        assert mine.status_code == 200
        assert "secret of alice" in mine.text


# -- Sessions, tokens, rate limits -----------------------------------------------------------


def _login(
    client: TestClient, name: str = "alice", password: str = PASSWORD, session: str = ""
) -> Any:
    headers = {"Cookie": f"{SESSION_COOKIE}={session}"} if session else {}
    response = client.post(
        "/api/auth/login", json={"name": name, "password": password}, headers=headers
    )
    client.cookies.clear()  # each test sends the cookie it means to, by hand
    return response


def _as(client: TestClient, session: str, url: str = "/api/conversations") -> int:
    status: int = client.get(url, headers={"Cookie": f"{SESSION_COOKIE}={session}"}).status_code
    return status


def test_login_sets_a_strict_http_only_cookie_and_rotates_it(world: World) -> None:
    client = world.client
    first = _login(client, session="chosen-by-an-attacker")
    assert first.status_code == 200
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    session = first.cookies[SESSION_COOKIE]
    assert session and session != "chosen-by-an-attacker"
    assert _as(client, session) == 200
    assert _as(client, "chosen-by-an-attacker") == 401

    # Logging in again issues a new id and ends the one the browser came with.
    again = _login(client, session=session)
    renewed = again.cookies[SESSION_COOKIE]
    assert renewed != session
    assert _as(client, session) == 401
    assert _as(client, renewed) == 200


def test_logout_ends_the_session_on_the_server(world: World) -> None:
    client = world.client
    session = _login(client).cookies[SESSION_COOKIE]
    assert _as(client, session) == 200
    cookie = {"Cookie": f"{SESSION_COOKIE}={session}"}
    out = client.post("/api/auth/logout", json={}, headers=cookie)
    assert out.status_code == 204
    assert SESSION_COOKIE in out.headers["set-cookie"]  # cleared in the browser too
    client.cookies.clear()
    assert _as(client, session) == 401
    me = client.get("/api/auth/me", headers=cookie)
    assert me.json() == {"mode": "accounts", "user": None}


def test_the_cookie_is_secure_over_https(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent(), auth="accounts")
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    client.portal.call(accounts.add_user, "carol", PASSWORD)  # type: ignore[union-attr]
    client.base_url = "https://localhost"
    response = client.post(
        "/api/auth/login", json={"name": "carol", "password": PASSWORD}, headers={}
    )
    assert response.status_code == 200
    assert "secure" in response.headers["set-cookie"].lower()


def test_a_revoked_token_stops_working_at_once(world: World) -> None:
    created = world.call("alice", "POST", "/api/tokens", json={"name": "laptop"}).json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert world.client.get("/api/conversations", headers=headers).status_code == 200
    listed = world.call("alice", "GET", "/api/tokens").json()["items"]
    assert "token" not in listed[0]  # the secret is shown once, at creation
    assert world.call("alice", "DELETE", f"/api/tokens/{created['id']}").status_code == 204
    assert world.client.get("/api/conversations", headers=headers).status_code == 401


def test_passwords_are_stored_as_argon2id(world: World) -> None:
    async def stored() -> list[str]:
        engine = world.client.app.state.services.accounts.engine  # type: ignore[attr-defined]
        async with engine.connect() as conn:
            return list((await conn.execute(sa.select(users.c.password_hash))).scalars())

    hashes = world.client.portal.call(stored)  # type: ignore[union-attr]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(PASSWORD not in h for h in hashes)


def test_failed_logins_are_limited_per_account_and_per_address(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(
        Echo().agent(), auth="accounts", login_attempts=3, login_attempts_per_address=6
    )
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    client.portal.call(accounts.add_user, "dave", PASSWORD)  # type: ignore[union-attr]
    for _ in range(3):
        assert _login(client, "dave", "wrong").status_code == 401
    limited = _login(client, "dave", PASSWORD)  # even the right password waits now
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "Try again in" in limited.json()["detail"]
    # Per address: many names from one client.
    for i in range(3):
        assert _login(client, f"nobody{i}", "wrong").status_code == 401
    assert _login(client, "someone-else", "wrong").status_code == 429


def test_concurrent_replies_per_user_are_limited(make_client: Callable[..., TestClient]) -> None:
    gate = asyncio.Event()
    client = make_client(Scripted(["a", "b"], gate=gate).agent(), max_runs_per_user=1)
    first = client.post("/api/conversations", json={}).json()["id"]
    second = client.post("/api/conversations", json={}).json()["id"]
    with client.stream(
        "POST", f"/api/conversations/{first}/messages", json={"prompt": "one"}
    ) as response:
        for line in response.iter_lines():
            if line.startswith("event: text"):
                break
        refused = client.post(f"/api/conversations/{second}/messages", json={"prompt": "two"})
        assert refused.status_code == 429
        assert "replies being generated" in refused.json()["detail"]
        run_id = client.get(f"/api/conversations/{first}").json()["active_run_id"]
        client.post(f"/api/runs/{run_id}/stop", json={})


def test_trusted_header_login_only_from_the_proxy(make_client: Callable[..., TestClient]) -> None:
    header = {"X-Forwarded-User": "erin"}
    trusted = make_client(
        Echo().agent(),
        auth="accounts",
        trusted_proxies=["testclient"],
        trusted_user_header="X-Forwarded-User",
    )
    me = trusted.get("/api/auth/me", headers=header).json()
    assert me["user"]["name"] == "erin"
    assert trusted.get("/api/conversations", headers=header).status_code == 200
    assert trusted.get("/api/conversations").status_code == 401

    untrusted = make_client(
        Echo().agent(),
        auth="accounts",
        trusted_proxies=["10.1.2.3"],
        trusted_user_header="X-Forwarded-User",
    )
    assert untrusted.get("/api/conversations", headers=header).status_code == 401


# -- Local mode: Host and cross-site writes ---------------------------------------------------


def test_unknown_host_names_are_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    assert client.get("/api/conversations").status_code == 200
    assert client.get("/", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8000"}).status_code == 200
    rebound = client.get("/api/conversations", headers={"Host": "attacker.example"})
    assert rebound.status_code == 421


def test_cross_site_and_form_posts_are_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    url = "/api/conversations"
    evil = client.post(url, json={}, headers={"Origin": "http://attacker.example"})
    assert evil.status_code == 403
    assert client.post(url, json={}, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post(url, json={}, headers={"Origin": "null"}).status_code == 403
    form = client.post(url, data={"title": "x"})  # application/x-www-form-urlencoded
    assert form.status_code == 415
    plain = client.post(url, content=b"{}", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    multipart = client.post(url, files={"f": ("a.txt", b"x")})
    assert multipart.status_code == 415
    same = client.post(url, json={}, headers={"Origin": "http://localhost"})
    assert same.status_code == 201
    assert client.get(url).json()["items"] == [same.json() | {"active_run_id": None}]


def test_security_headers_are_on_every_response(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    for url in ("/", "/api/conversations", "/static/style.css", "/api/nope", "/login"):
        headers = client.get(url).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_a_trusted_proxy_sets_scheme_and_client_and_no_one_else_does(
    make_client: Callable[..., TestClient],
) -> None:
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    behind = make_client(Echo().agent(), auth="accounts", trusted_proxies=["testclient"])
    accounts: Accounts = behind.app.state.services.accounts  # type: ignore[attr-defined]
    behind.portal.call(accounts.add_user, "hank", PASSWORD)  # type: ignore[union-attr]
    login = behind.post(
        "/api/auth/login", json={"name": "hank", "password": PASSWORD}, headers=proxied
    )
    assert "secure" in login.headers["set-cookie"].lower()

    direct = make_client(Echo().agent(), auth="accounts")
    accounts = direct.app.state.services.accounts  # type: ignore[attr-defined]
    direct.portal.call(accounts.add_user, "ivy", PASSWORD)  # type: ignore[union-attr]
    login = direct.post(
        "/api/auth/login", json={"name": "ivy", "password": PASSWORD}, headers=proxied
    )
    assert "secure" not in login.headers["set-cookie"].lower()
