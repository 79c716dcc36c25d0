"""Share snapshots (chat/shares.py) on both databases: what a snapshot holds (the branch shown,
not the owner's settings), one share per conversation however many puts race, revoking and
who may, a reply still being written, and copies that owe nothing to the original."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from parley.chat.shares import Share, Shared, Shares
from parley.db.tables import conversations, messages, shares
from parley.web.deps import LOCAL_OWNER

from ..support.client import branch, edit, iter_frames, new_conversation, send, switch
from ..support.models import Echo, Scripted, reply_to


def _shares(client: TestClient) -> Shares:
    return Shares(client.app.state.services.store.engine)  # type: ignore[attr-defined]


def _call(client: TestClient, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a coroutine function of the app's on the app's event loop."""
    return client.portal.call(functools.partial(function, *args, **kwargs))  # type: ignore[union-attr]


def _put(client: TestClient, conversation_id: str, include_files: bool = False) -> Share:
    found = _call(
        client, _shares(client).put, LOCAL_OWNER, conversation_id, include_files=include_files
    )
    assert found is not None
    share: Share = found[0]
    return share


def _snapshot(client: TestClient, share_id: str) -> dict[str, Any]:
    engine = client.app.state.services.store.engine  # type: ignore[attr-defined]

    async def read() -> str:
        async with engine.connect() as conn:
            text: str = await conn.scalar(
                sa.select(shares.c.snapshot).where(shares.c.id == share_id)
            )
            return text

    snapshot: dict[str, Any] = json.loads(client.portal.call(read))  # type: ignore[union-attr]
    return snapshot


def test_a_snapshot_is_the_branch_shown_without_the_owners_settings(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    cid = new_conversation(client)
    send(client, cid, "first")
    send(client, cid, "second")
    first_branch = [m["id"] for m in branch(client, cid)]
    edit(client, cid, first_branch[2], "second, edited")
    updated = client.patch(
        f"/api/conversations/{cid}",
        json={"instructions": "Secret instructions of the owner.", "pinned": True},
    )
    assert updated.status_code == 200

    share = _put(client, cid)
    snapshot = _snapshot(client, share.id)
    shown = branch(client, cid)
    assert [m["id"] for m in snapshot["messages"]] == [m["id"] for m in shown]
    assert [m["text"] for m in snapshot["messages"]] == [
        "first",
        reply_to("first"),
        "second, edited",
        reply_to("second, edited"),
    ]
    assert snapshot["current_leaf_id"] == shown[-1]["id"]
    # The owner's settings are not what was said: they stay with the owner.
    assert snapshot["instructions"] is None
    assert snapshot["pinned"] is False and snapshot["source"] is None
    assert "Secret instructions" not in json.dumps(snapshot)
    # Model messages come along: a copy goes on with the same history.
    assert all(m["model_messages"] for m in snapshot["messages"])

    # Switching back and updating: the same share now holds the other branch.
    switch(client, cid, first_branch[2])
    again = _put(client, cid)
    assert again.id == share.id and again.created_at == share.created_at
    assert again.updated_at >= share.updated_at
    assert [m["id"] for m in _snapshot(client, share.id)["messages"]] == first_branch


def test_puts_at_once_make_one_share(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    cid = new_conversation(client)
    send(client, cid, "hello")
    store = _shares(client)

    async def burst() -> list[tuple[Share, bool] | None]:
        return await asyncio.gather(
            *(store.put(LOCAL_OWNER, cid, include_files=i % 2 == 0) for i in range(8))
        )

    results = client.portal.call(burst)  # type: ignore[union-attr]
    assert all(r is not None for r in results)
    assert sum(created for _share, created in filter(None, results)) == 1
    assert len({share.id for share, _created in filter(None, results)}) == 1
    assert len(_call(client, store.owned_by, LOCAL_OWNER)) == 1


def test_revoking_is_the_owners_and_final(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    store = _shares(client)
    cid = new_conversation(client)
    send(client, cid, "hello")
    share = _put(client, cid)

    # Another owner can neither see, list, refresh nor revoke it.
    assert _call(client, store.get, "someone-else", cid) is None
    assert _call(client, store.owned_by, "someone-else") == []
    assert _call(client, store.put, "someone-else", cid, include_files=True) is None
    assert _call(client, store.revoke, "someone-else", share.id) is False
    assert _call(client, store.shared, share.id) is not None

    assert _call(client, store.revoke, LOCAL_OWNER, share.id) is True
    assert _call(client, store.shared, share.id) is None
    assert _call(client, store.get, LOCAL_OWNER, cid) is None
    assert _call(client, store.revoke, LOCAL_OWNER, share.id) is False
    # Sharing again is a new link: the revoked one never comes back.
    assert _put(client, cid).id != share.id


def test_shares_are_listed_newest_first_and_go_with_their_conversation(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    store = _shares(client)
    ids = []
    for prompt in ("one", "two", "three"):
        cid = new_conversation(client)
        send(client, cid, prompt)
        ids.append(cid)
    for cid in ids:
        _put(client, cid)
    _put(client, ids[0])  # updated last
    listed = _call(client, store.owned_by, LOCAL_OWNER)
    assert [s.conversation_id for s in listed] == [ids[0], ids[2], ids[1]]

    share = _call(client, store.get, LOCAL_OWNER, ids[1])
    assert client.delete(f"/api/conversations/{ids[1]}").status_code == 204
    assert _call(client, store.shared, share.id) is None
    assert [s.conversation_id for s in _call(client, store.owned_by, LOCAL_OWNER)] == [
        ids[0],
        ids[2],
    ]


def test_ids_that_name_no_share_find_nothing(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    store = _shares(client)
    cid = new_conversation(client)
    send(client, cid, "hello")
    share = _put(client, cid)
    message_id = branch(client, cid)[0]["id"]
    for wrong in (cid, message_id, "x" * 200, "", share.id.upper()):
        assert _call(client, store.shared, wrong) is None
        assert _call(client, store.file, wrong, "anything") is None
    assert _call(client, store.continue_in, LOCAL_OWNER, cid) is None


def test_a_reply_being_written_is_shared_as_saved_and_marked(
    make_client: Callable[..., TestClient],
) -> None:
    gate = asyncio.Event()
    client = make_client(Scripted(["Half ", "of it."], gate=gate).agent())
    store = _shares(client)
    cid = new_conversation(client)
    try:
        with client.stream(
            "POST", f"/api/conversations/{cid}/messages", json={"prompt": "go"}
        ) as response:
            assert response.status_code == 200
            frames = iter_frames(response.iter_lines())
            for frame in frames:
                if frame.event == "text":
                    break
            share = _put(client, cid)
            shared: Shared = _call(client, store.shared, share.id)
            reply = shared.messages()[-1]
            assert reply.role == "assistant" and reply.status == "generating"
            assert reply.run_id is None  # nothing a viewer could attach to
            page = client.get(f"/s/{share.id}")
            assert "(still being written when shared)" in page.text

            # A copy is a conversation of its own: nothing is generating in it.
            copy = _call(client, store.continue_in, LOCAL_OWNER, share.id)
            copied = branch(client, copy)
            assert [m["status"] for m in copied] == ["complete", "interrupted"]
            assert client.get(f"/api/conversations/{copy}").json()["active_run_id"] is None
            client.portal.call(gate.set)  # type: ignore[union-attr]
            assert [f.event for f in frames][-1] == "done"
    finally:
        client.portal.call(gate.set)  # type: ignore[union-attr]

    # Once finished, "Update link" shares the whole reply.
    _put(client, cid)
    reply = _call(client, store.shared, share.id).messages()[-1]
    assert reply.status == "complete" and reply.text == "Half of it."


def test_a_copy_owes_nothing_to_the_original(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    store = _shares(client)
    engine = client.app.state.services.store.engine  # type: ignore[attr-defined]
    cid = new_conversation(client)
    send(client, cid, "hello")
    share = _put(client, cid)
    copy = _call(client, store.continue_in, "viewer", share.id)

    async def rows() -> tuple[list[Any], list[Any]]:
        async with engine.connect() as conn:
            owned = (
                await conn.execute(
                    sa.select(conversations.c.owner_id, conversations.c.import_key).where(
                        conversations.c.id == copy
                    )
                )
            ).all()
            written = (
                await conn.execute(
                    sa.select(messages.c.id).where(messages.c.conversation_id == copy)
                )
            ).all()
        return list(owned), list(written)

    owned, written = client.portal.call(rows)  # type: ignore[union-attr]
    assert owned == [("viewer", None)]  # the viewer's, and never skipped as "imported already"
    snapshot_ids = {m["id"] for m in _snapshot(client, share.id)["messages"]}
    assert len(written) == 2 and not {r[0] for r in written} & snapshot_ids
    # Continuing twice makes two copies.
    assert _call(client, store.continue_in, "viewer", share.id) not in (None, copy)
