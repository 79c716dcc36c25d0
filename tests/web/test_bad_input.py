"""Input the API must refuse with a clear 4xx, on both databases, writing nothing.

Text that is not valid Unicode (a lone surrogate, which JSON can spell as `\\ud83d`) or that
holds NUL (which PostgreSQL's text type cannot store) is a 422 wherever a person types it: a
prompt, a title, a token name, a login name. Numbers and cursors that this server never gave
out are 422s too, and a body over the size limit is a 413 even when it declares no length.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic_ai.messages import ModelRequest, UserPromptPart

from parley.accounts.store import Accounts
from parley.chat.store import Fresh, Store, Turn
from parley.db.ids import new_id
from parley.db.tables import conversations, messages, runs
from parley.web.deps import LOCAL_OWNER

from ..support.client import new_conversation, parse_sse, send, texts_of
from ..support.models import Echo, reply_to

PASSWORD = "correct horse battery"

# What a person might type that Parley cannot store the same on every database.
BAD_TEXT = {
    "lone-surrogate": ("a\ud83d b", ("unicode", "surrogate")),
    "nul": ("a\x00b", ("nul",)),
}


def raw_json(value: Any) -> bytes:
    """`value` as JSON with every non-ASCII character escaped: a lone surrogate goes over the
    wire as the JSON escape `\\ud83d` (the bytes themselves are plain ASCII), and the server's
    JSON parser turns it back into a lone surrogate."""
    return json.dumps(value, ensure_ascii=True).encode("ascii")


def post_raw(
    client: TestClient,
    method: str,
    url: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> Any:
    return client.request(
        method,
        url,
        content=raw_json(body),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def assert_refused(response: Any, words: tuple[str, ...]) -> None:
    """A 422 whose JSON detail says why, in words a person can act on."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert any(word in detail.lower() for word in words), detail


def message_items(client: TestClient, cid: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/conversations/{cid}/messages")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def table_counts(client: TestClient) -> dict[str, int]:
    store: Store = client.app.state.services.store  # type: ignore[attr-defined]

    async def count() -> dict[str, int]:
        async with store.engine.connect() as conn:
            return {
                table.name: int(
                    await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
                )
                for table in (conversations, messages, runs)
            }

    counted: dict[str, int] = client.portal.call(count)  # type: ignore[union-attr]
    return counted


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(Echo().agent())


@pytest.fixture
def accounts_client(make_client: Callable[..., TestClient]) -> tuple[TestClient, str]:
    """A client in accounts mode and an API token of the user "alice"."""
    client = make_client(Echo().agent(), auth="accounts")
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    user = client.portal.call(accounts.add_user, "alice", PASSWORD)  # type: ignore[union-attr]
    _, secret = client.portal.call(accounts.create_token, user, "tests")  # type: ignore[union-attr]
    token: str = secret
    return client, token


# -- 1, 2: text that is not storable everywhere -------------------------------------------------


def test_a_prompt_with_a_lone_surrogate_is_a_422_and_saves_nothing(client: TestClient) -> None:
    cid = new_conversation(client)
    response = post_raw(
        client, "POST", f"/api/conversations/{cid}/messages", {"prompt": "a\ud83d b"}
    )
    assert response.request.content == b'{"prompt": "a\\ud83d b"}'  # a JSON escape, ASCII bytes
    assert_refused(response, ("unicode", "surrogate"))
    assert response.headers["content-type"].startswith("application/json")
    assert message_items(client, cid) == []
    assert client.get(f"/api/conversations/{cid}").json()["title"] == "New chat"
    # Refused, not stuck: the conversation takes a good prompt next.
    frames = send(client, cid, "a \U0001f600 b")
    assert (frames[-1].event, frames[-1].data["status"]) == ("done", "complete")


@pytest.mark.parametrize("bad", sorted(BAD_TEXT))
def test_bad_text_in_a_prompt_is_a_422_and_saves_nothing(client: TestClient, bad: str) -> None:
    text, words = BAD_TEXT[bad]
    cid = new_conversation(client)
    before = table_counts(client)
    response = post_raw(client, "POST", f"/api/conversations/{cid}/messages", {"prompt": text})
    assert_refused(response, words)
    assert message_items(client, cid) == []
    assert table_counts(client) == before


@pytest.mark.parametrize("bad", sorted(BAD_TEXT))
def test_bad_text_in_a_title_is_a_422_on_create_and_rename(client: TestClient, bad: str) -> None:
    text, words = BAD_TEXT[bad]
    assert_refused(post_raw(client, "POST", "/api/conversations", {"title": text}), words)
    assert client.get("/api/conversations").json()["items"] == []

    cid = new_conversation(client)
    assert_refused(post_raw(client, "PATCH", f"/api/conversations/{cid}", {"title": text}), words)
    assert client.get(f"/api/conversations/{cid}").json()["title"] == "New chat"
    assert [c["id"] for c in client.get("/api/conversations").json()["items"]] == [cid]


@pytest.mark.parametrize("bad", sorted(BAD_TEXT))
def test_bad_text_in_a_token_name_is_a_422(
    accounts_client: tuple[TestClient, str], bad: str
) -> None:
    client, secret = accounts_client
    auth = {"Authorization": f"Bearer {secret}"}
    text, words = BAD_TEXT[bad]
    assert_refused(post_raw(client, "POST", "/api/tokens", {"name": text}, auth), words)
    names = [t["name"] for t in client.get("/api/tokens", headers=auth).json()["items"]]
    assert names == ["tests"]


@pytest.mark.parametrize("field", ["name", "password"])
@pytest.mark.parametrize("bad", sorted(BAD_TEXT))
def test_bad_text_in_a_login_is_a_422(
    accounts_client: tuple[TestClient, str], bad: str, field: str
) -> None:
    client, _ = accounts_client
    text, words = BAD_TEXT[bad]
    body = {"name": "alice", "password": PASSWORD, field: text}
    response = post_raw(client, "POST", "/api/auth/login", body)
    assert_refused(response, words)
    assert "set-cookie" not in response.headers
    # Still answers a good login (the refusal did not break or lock anything).
    good = client.post("/api/auth/login", json={"name": "alice", "password": PASSWORD})
    assert good.status_code == 200, good.text


# -- 3: event ids this server never gave out ----------------------------------------------------


def test_a_huge_event_id_is_a_422_not_a_500(client: TestClient) -> None:
    cid = new_conversation(client)
    frames = send(client, cid, "hello")
    run_id = frames[1].data["run_id"]
    huge = 2**70
    assert str(huge) == "1180591620717411303424"

    by_query = client.get(f"/api/runs/{run_id}/events", params={"after": str(huge)})
    assert by_query.status_code == 422, by_query.text
    assert "after" in by_query.json()["detail"]

    by_header = client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(huge)})
    assert by_header.status_code == 422, by_header.text
    assert "last-event-id" in by_header.json()["detail"].lower()

    # The run id itself is good: a sane position replays the rest of its events.
    with client.stream("GET", f"/api/runs/{run_id}/events", params={"after": "1"}) as response:
        assert response.status_code == 200
        replay = parse_sse(response.read().decode())
    assert replay and all(f.id is not None and f.id > 1 for f in replay)
    assert [f.event for f in replay if f.event in ("user", "start")] == []
    assert (replay[-1].event, replay[-1].data) == (frames[-1].event, frames[-1].data)


# -- 4: a cursor that does not point into the branch --------------------------------------------


def test_a_before_cursor_not_in_the_branch_is_a_422(client: TestClient) -> None:
    cid = new_conversation(client)
    other = new_conversation(client)
    for prompt in ("one", "two"):
        send(client, cid, prompt)
    send(client, other, "elsewhere")
    url = f"/api/conversations/{cid}/messages"

    first = client.get(url, params={"limit": 2}).json()
    assert texts_of(client, cid, first["items"]) == ["two", reply_to("two")]
    older = client.get(url, params={"limit": 2, "before": first["next_cursor"]}).json()
    assert texts_of(client, cid, older["items"]) == ["one", reply_to("one")]

    foreign = message_items(client, other)[0]["id"]
    for before in (new_id(), foreign, "not-an-id"):
        response = client.get(url, params={"limit": 2, "before": before})
        assert response.status_code == 422, (before, response.text)
        assert "cursor" in response.json()["detail"]


def test_a_before_cursor_deleted_with_its_conversation_is_a_404(client: TestClient) -> None:
    cid = new_conversation(client)
    send(client, cid, "one")
    first_id = message_items(client, cid)[0]["id"]
    assert client.delete(f"/api/conversations/{cid}").status_code == 204
    response = client.get(f"/api/conversations/{cid}/messages", params={"before": first_id})
    assert response.status_code == 404


# -- 5: a body over the limit that declares no length -------------------------------------------


def test_an_oversized_chunked_body_is_a_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent(), max_body_bytes=1000)
    cid = new_conversation(client)
    url = f"/api/conversations/{cid}/messages"
    headers = {"Content-Type": "application/json"}

    def chunks(size: int) -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(size // 100):
            yield b"x" * 100
        yield b'"}'

    response = client.post(url, content=chunks(1200), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "1000 bytes" in response.json()["detail"]
    assert message_items(client, cid) == []

    # Under the limit, the same chunked body is read whole and answered.
    with client.stream("POST", url, content=chunks(500), headers=headers) as ok:
        assert ok.status_code == 200
        frames = parse_sse(ok.read().decode())
    assert frames[0].data["message"]["text"] == "x" * 500
    assert frames[-1].data["status"] == "complete"


# -- 6: a prompt for a conversation that was deleted --------------------------------------------


async def _start_turn(store: Store, cid: str) -> Turn | None:
    request = ModelRequest(parts=[UserPromptPart("hello")])
    return await store.start_turn(LOCAL_OWNER, cid, Fresh("hello", [request]), new_id(), "echo")


def test_start_turn_on_a_deleted_conversation_returns_none(client: TestClient) -> None:
    store: Store = client.app.state.services.store  # type: ignore[attr-defined]
    cid = new_conversation(client)
    send(client, cid, "before the delete")
    assert client.delete(f"/api/conversations/{cid}").status_code == 204
    before = table_counts(client)

    assert client.portal.call(_start_turn, store, cid) is None  # type: ignore[union-attr]
    assert table_counts(client) == before == {"conversations": 0, "messages": 0, "runs": 0}


def test_start_turn_racing_a_delete_leaves_nothing_behind(client: TestClient) -> None:
    """Both orders happen (and, on PostgreSQL, interleavings): whichever wins, the start
    either returns None or a turn that the delete then removed; never an error, never rows."""
    store: Store = client.app.state.services.store  # type: ignore[attr-defined]

    async def race(cid: str, delete_first: bool) -> tuple[Turn | None, bool]:
        start = _start_turn(store, cid)
        delete = store.delete_conversation(LOCAL_OWNER, cid)
        if delete_first:  # gather starts its tasks in the order given
            deleted, turn = await asyncio.gather(delete, start)
        else:
            turn, deleted = await asyncio.gather(start, delete)
        return turn, deleted

    for i in range(10):
        cid = new_conversation(client)
        turn, deleted = client.portal.call(race, cid, i % 2 == 1)  # type: ignore[union-attr]
        assert deleted
        assert turn is None or turn.conversation_id == cid
        assert client.get(f"/api/conversations/{cid}").status_code == 404
    assert table_counts(client) == {"conversations": 0, "messages": 0, "runs": 0}


def test_a_prompt_after_a_delete_is_the_same_404_as_an_unknown_id(client: TestClient) -> None:
    cid = new_conversation(client)
    send(client, cid, "before the delete")
    assert client.delete(f"/api/conversations/{cid}").status_code == 204

    deleted = client.post(f"/api/conversations/{cid}/messages", json={"prompt": "hello"})
    unknown = client.post(f"/api/conversations/{new_id()}/messages", json={"prompt": "hello"})
    assert deleted.status_code == unknown.status_code == 404
    assert deleted.json() == unknown.json() == {"detail": "No such conversation."}
    assert table_counts(client) == {"conversations": 0, "messages": 0, "runs": 0}
