"""Deleting a long conversation, and a user with everything of theirs.

Messages form a chain through `parent_id` with ON DELETE CASCADE, so a delete that let the
database cascade down the chain would recurse once per message (SQLite gives up past 1,000
levels) or look each message's children up one by one. Parley's delete is a fixed number of
statements whatever the length of the conversation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event

from parley.accounts.store import Accounts, User
from parley.chat.store import Store
from parley.cli import main
from parley.db.clock import now
from parley.db.engine import write
from parley.db.ids import new_id
from parley.db.tables import (
    api_tokens,
    conversations,
    messages,
    run_events,
    runs,
    sessions,
    users,
)
from parley.web.deps import LOCAL_OWNER

from ..support.client import new_conversation, send, texts_of
from ..support.databases import engine_on
from ..support.models import Echo, reply_to

T = TypeVar("T")
PASSWORD = "correct horse battery"


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a loop of its own, in a thread of its own (the test
    itself must not need, or be inside, an event loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def store_of(client: TestClient) -> Store:
    store: Store = client.app.state.services.store  # type: ignore[attr-defined]
    return store


# -- 11: a conversation of many messages --------------------------------------------------------


async def insert_chain(store: Store, length: int) -> str:
    """A conversation of `length` messages, each the child of the one before, inserted
    directly; with a run and its events. Returns the conversation's id."""
    cid = new_id()
    run_id = new_id()
    stamp = now()
    ids = [new_id() for _ in range(length)]
    rows = [
        {
            "id": message_id,
            "conversation_id": cid,
            "parent_id": ids[i - 1] if i else None,
            "seq": i + 1,
            "role": "user" if i % 2 == 0 else "assistant",
            "text": f"message {i}",
            "parts": [{"type": "text", "text": f"message {i}", "html": None}],
            "model_messages": "[]",
            "status": "complete",
            "error": None,
            "model": None,
            "usage": None,
            "run_id": run_id if i == length - 1 else None,
            "created_at": stamp + timedelta(microseconds=i),
            "updated_at": stamp + timedelta(microseconds=i),
        }
        for i, message_id in enumerate(ids)
    ]
    async with write(store.engine) as conn:
        await conn.execute(
            conversations.insert().values(
                id=cid,
                owner_id=LOCAL_OWNER,
                title=f"{length} messages",
                current_leaf_id=ids[-1],
                created_at=stamp,
                updated_at=stamp,
            )
        )
        await conn.execute(messages.insert(), rows)
        await conn.execute(
            runs.insert().values(
                id=run_id,
                conversation_id=cid,
                owner_id=LOCAL_OWNER,
                message_id=ids[-1],
                process_id="test",
                status="finished",
                stop_requested=False,
                heartbeat_at=stamp,
                created_at=stamp,
            )
        )
        await conn.execute(
            run_events.insert(),
            [{"run_id": run_id, "seq": i, "name": "text", "data": '{"d":"x"}'} for i in range(3)],
        )
    return cid


async def rows_of(store: Store, cid: str) -> dict[str, int]:
    """How many rows of each table belong to conversation `cid`."""
    run_ids = sa.select(runs.c.id).where(runs.c.conversation_id == cid)
    queries = {
        "conversations": sa.select(sa.func.count())
        .select_from(conversations)
        .where(conversations.c.id == cid),
        "messages": sa.select(sa.func.count())
        .select_from(messages)
        .where(messages.c.conversation_id == cid),
        "runs": sa.select(sa.func.count()).select_from(runs).where(runs.c.conversation_id == cid),
        "run_events": sa.select(sa.func.count())
        .select_from(run_events)
        .where(run_events.c.run_id.in_(run_ids)),
    }
    async with store.engine.connect() as conn:
        return {name: int(await conn.scalar(query) or 0) for name, query in queries.items()}


def delete_counting_statements(client: TestClient, cid: str) -> int:
    """DELETE the conversation through the API; how many SQL statements that executed."""
    sync_engine = store_of(client).engine.sync_engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])  # (conn, cursor, statement, parameters, context, many)

    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        response = client.delete(f"/api/conversations/{cid}")
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert response.status_code == 204, response.text
    return len(statements)


def test_deleting_a_conversation_of_10000_messages_is_a_fixed_number_of_statements(
    make_client: Callable[..., TestClient],
) -> None:
    # No reaper pass during the deletes: its statements would be counted too.
    client = make_client(Echo().agent(), run_stale_after=3600)
    store = store_of(client)
    kept = new_conversation(client)
    send(client, kept, "keep me")
    small = client.portal.call(insert_chain, store, 1_000)  # type: ignore[union-attr]
    large = client.portal.call(insert_chain, store, 10_000)  # type: ignore[union-attr]

    full = {"conversations": 1, "runs": 1, "run_events": 3}
    assert client.portal.call(rows_of, store, small) == full | {"messages": 1_000}  # type: ignore[union-attr]
    assert client.portal.call(rows_of, store, large) == full | {"messages": 10_000}  # type: ignore[union-attr]
    page = client.get(f"/api/conversations/{large}/messages", params={"limit": 2}).json()
    assert [m["text"] for m in page["items"]] == ["message 9998", "message 9999"]

    small_statements = delete_counting_statements(client, small)
    large_statements = delete_counting_statements(client, large)

    assert large_statements == small_statements
    assert 0 < large_statements < 20  # counted at all, and a handful
    gone = {"conversations": 0, "messages": 0, "runs": 0, "run_events": 0}
    for cid in (small, large):
        assert client.portal.call(rows_of, store, cid) == gone  # type: ignore[union-attr]
        assert client.get(f"/api/conversations/{cid}").status_code == 404
        assert client.delete(f"/api/conversations/{cid}").status_code == 404

    # The other conversation is untouched, and goes on.
    assert [c["id"] for c in client.get("/api/conversations").json()["items"]] == [kept]
    listed = client.get(f"/api/conversations/{kept}/messages").json()["items"]
    assert texts_of(client, kept, listed) == ["keep me", reply_to("keep me")]
    frames = send(client, kept, "still here")
    assert frames[-1].data["status"] == "complete"


# -- 12: `parley users remove` ------------------------------------------------------------------


def _ids_of(client: TestClient, user: User, cids: list[str]) -> dict[str, list[str]]:
    """The ids of the rows of each table that belong to `user` (who owns conversations
    `cids`)."""
    store = store_of(client)

    async def read() -> dict[str, list[str]]:
        async with store.engine.connect() as conn:

            async def ids(query: sa.Select[Any]) -> list[str]:
                return sorted(str(v) for v in (await conn.execute(query)).scalars())

            run_ids = sa.select(runs.c.id).where(runs.c.owner_id == user.id)
            return {
                "users": await ids(sa.select(users.c.id).where(users.c.id == user.id)),
                "conversations": await ids(
                    sa.select(conversations.c.id).where(
                        sa.or_(conversations.c.owner_id == user.id, conversations.c.id.in_(cids))
                    )
                ),
                "messages": await ids(
                    sa.select(messages.c.id).where(messages.c.conversation_id.in_(cids))
                ),
                "runs": await ids(
                    sa.select(runs.c.id).where(
                        sa.or_(runs.c.owner_id == user.id, runs.c.conversation_id.in_(cids))
                    )
                ),
                "run_events": await ids(
                    sa.select(
                        run_events.c.run_id + ":" + sa.cast(run_events.c.seq, sa.String)
                    ).where(run_events.c.run_id.in_(run_ids))
                ),
                "sessions": await ids(
                    sa.select(sessions.c.token_hash).where(sessions.c.user_id == user.id)
                ),
                "api_tokens": await ids(
                    sa.select(api_tokens.c.id).where(api_tokens.c.user_id == user.id)
                ),
            }

    found: dict[str, list[str]] = client.portal.call(read)  # type: ignore[union-attr]
    return found


def test_removing_a_user_removes_everything_of_theirs(
    make_client: Callable[..., TestClient],
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = make_client(Echo().agent(), auth="accounts")
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    people: dict[str, tuple[User, str, list[str]]] = {}
    for name in ("alice", "bob"):
        user = client.portal.call(accounts.add_user, name, PASSWORD)  # type: ignore[union-attr]
        _, token = client.portal.call(accounts.create_token, user, "laptop")  # type: ignore[union-attr]
        client.portal.call(accounts.start_session, user, 30)  # type: ignore[union-attr]
        auth = {"Authorization": f"Bearer {token}"}
        cids = []
        for _ in range(2):
            cid = client.post("/api/conversations", json={}, headers=auth).json()["id"]
            with client.stream(
                "POST",
                f"/api/conversations/{cid}/messages",
                json={"prompt": f"secret of {name}"},
                headers=auth,
            ) as response:
                assert response.status_code == 200
                response.read()
            cids.append(cid)
        people[name] = (user, token, cids)

    # Run events are stored on PostgreSQL only (SQLite serves one process): add some, so
    # their removal is checked on both databases.
    async def add_events() -> None:
        async with write(store_of(client).engine) as conn:
            run_ids = (await conn.execute(sa.select(runs.c.id))).scalars().all()
            await conn.execute(
                run_events.insert(),
                [{"run_id": r, "seq": 10_000, "name": "done", "data": "{}"} for r in run_ids],
            )

    client.portal.call(add_events)  # type: ignore[union-attr]

    before = {name: _ids_of(client, user, cids) for name, (user, _, cids) in people.items()}
    for name in people:
        assert all(before[name].values()), (name, before[name])  # every table has their rows
        assert len(before[name]["messages"]) == 4

    # In a thread: the CLI runs its own event loop (asyncio.run).
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(
            main, ["users", "--database-url", database_url, "remove", "alice"]
        ).result()
    assert code == 0
    assert "removed alice" in capsys.readouterr().out

    alice, alice_token, alice_cids = people["alice"]
    bob, bob_token, bob_cids = people["bob"]
    assert _ids_of(client, alice, alice_cids) == {table: [] for table in before["alice"]}
    assert _ids_of(client, bob, bob_cids) == before["bob"]

    # Directly on the tables, through an engine of another process's kind (not the app's).
    async def leftovers() -> list[str]:
        async with engine_on(database_url) as engine, engine.connect() as conn:
            names = (await conn.execute(sa.select(users.c.name))).scalars().all()
            owners = (await conn.execute(sa.select(conversations.c.owner_id))).scalars().all()
            return sorted(names) + sorted(set(owners))

    assert run_async(leftovers) == ["bob", bob.id]

    # The running app agrees: alice's token no longer works, bob's does and sees his own.
    alice_auth = {"Authorization": f"Bearer {alice_token}"}
    bob_auth = {"Authorization": f"Bearer {bob_token}"}
    assert client.get("/api/conversations", headers=alice_auth).status_code == 401
    listed = client.get("/api/conversations", headers=bob_auth).json()["items"]
    assert sorted(c["id"] for c in listed) == sorted(bob_cids)
    assert alice.id != bob.id
