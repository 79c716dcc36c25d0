"""Edit, regenerate, switch versions, fork: the model receives exactly the branch on screen."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from parley.db.tables import messages

from ..support.browser import serve as serve_in_thread
from ..support.cli import migrate
from ..support.client import (
    branch,
    edit,
    iter_frames,
    new_conversation,
    parse_sse,
    regenerate,
    send,
    switch,
    texts_of,
)
from ..support.databases import engine_on, run_in_thread
from ..support.models import Echo, Scripted, prompts_of, reply_to, words_agent
from ..support.processes import Server, http_client, side_by_side
from ..support.seed import seed_conversation

QUICK_AGENT = "tests.support.paced_agents:quick_agent"


def _prompts(client: TestClient, cid: str) -> list[str]:
    return [m["text"] for m in branch(client, cid) if m["role"] == "user"]


def _replies_sent(messages: list[ModelMessage]) -> list[str]:
    return [
        p.content
        for m in messages
        if isinstance(m, ModelResponse)
        for p in m.parts
        if isinstance(p, TextPart)
    ]


def test_an_edit_branches_and_the_model_receives_exactly_the_branch_on_screen(
    make_client: Callable[..., TestClient],
) -> None:
    echo = Echo()
    client = make_client(echo.agent())
    cid = new_conversation(client)
    for prompt in ("one", "two", "three"):
        send(client, cid, prompt)
    two = branch(client, cid)[2]

    frames = edit(client, cid, two["id"], "TWO")
    new_two = frames[0].data["message"]
    assert frames[0].event == "user" and new_two["text"] == "TWO"
    assert new_two["siblings"] == [two["id"], new_two["id"]]
    assert frames[-1].data["status"] == "complete"
    assert prompts_of(echo.calls[-1]) == ["one", "TWO"]
    assert _replies_sent(echo.calls[-1]) == [reply_to("one")]
    shown = branch(client, cid)
    assert [m["text"] for m in shown if m["role"] == "user"] == ["one", "TWO"]
    assert shown[2]["siblings"] == [two["id"], new_two["id"]]
    assert all(len(m["siblings"]) == 1 for i, m in enumerate(shown) if i != 2)

    send(client, cid, "four")
    assert prompts_of(echo.calls[-1]) == ["one", "TWO", "four"]

    # Back to the first version: the conversation that followed it comes back, and is what
    # the model receives.
    switch(client, cid, two["id"])
    assert _prompts(client, cid) == ["one", "two", "three"]
    send(client, cid, "five")
    assert prompts_of(echo.calls[-1]) == ["one", "two", "three", "five"]
    assert _replies_sent(echo.calls[-1]) == [reply_to(p) for p in ("one", "two", "three")]

    # And forth again: the newest continuation of the edit.
    switch(client, cid, new_two["id"])
    assert _prompts(client, cid) == ["one", "TWO", "four"]
    send(client, cid, "six")
    assert prompts_of(echo.calls[-1]) == ["one", "TWO", "four", "six"]

    # A reload, or another device, shows the same branch: it is the server's.
    client.__exit__(None, None, None)
    again = make_client(echo.agent())
    assert _prompts(again, cid) == ["one", "TWO", "four", "six"]


def test_regenerate_answers_the_same_prompt_again_beside_the_old_reply(
    make_client: Callable[..., TestClient],
) -> None:
    echo = Echo()
    client = make_client(echo.agent())
    cid = new_conversation(client)
    send(client, cid, "hello")
    send(client, cid, "again")
    before = branch(client, cid)
    old = before[3]

    frames = regenerate(client, cid, old["id"])
    assert frames[0].event == "start"  # no `user` event: the prompt is the stored one
    assert frames[-1].data["status"] == "complete"
    new = frames[0].data["message"]
    assert new["siblings"] == [old["id"], new["id"]]
    # The prompt once, not twice; the earlier turn as it was.
    assert prompts_of(echo.calls[-1]) == ["hello", "again"]
    assert _replies_sent(echo.calls[-1]) == [reply_to("hello")]

    after = branch(client, cid)
    assert [m["id"] for m in after[:3]] == [m["id"] for m in before[:3]]
    assert after[3]["id"] == new["id"] and after[3]["siblings"] == [old["id"], new["id"]]
    assert texts_of(client, cid, after)[3] == reply_to("again")

    switch(client, cid, old["id"])
    assert branch(client, cid)[3]["id"] == old["id"]
    send(client, cid, "third")
    assert _replies_sent(echo.calls[-1]) == [reply_to("hello"), reply_to("again")]


def _flaky(failures: int, calls: list[list[ModelMessage]]) -> Agent[None, str]:
    """Fails its first `failures` replies before any text, then echoes."""
    left = [failures]

    async def stream(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        calls.append(list(messages))
        if left[0] > 0:
            left[0] -= 1
            raise RuntimeError("the provider fell over")
        yield reply_to(prompts_of(messages)[-1])

    return Agent(FunctionModel(stream_function=stream, model_name="flaky"))


def test_a_failed_reply_never_leaves_its_prompt_in_what_the_model_receives(
    make_client: Callable[..., TestClient],
) -> None:
    calls: list[list[ModelMessage]] = []
    client = make_client(_flaky(2, calls))
    cid = new_conversation(client)
    assert send(client, cid, "first")[-1].data["status"] == "error"
    assert send(client, cid, "second")[-1].data["status"] == "error"
    # Before: user, user (and user, user, user after a third). Now the failed turn is out.
    assert prompts_of(calls[-1]) == ["second"]

    failed = branch(client, cid)
    assert [m["status"] for m in failed] == ["complete", "error", "complete", "error"]
    frames = regenerate(client, cid, failed[3]["id"])
    assert frames[-1].data["status"] == "complete"
    assert prompts_of(calls[-1]) == ["second"]

    # The first failed reply, regenerated: its branch holds one prompt and its answer.
    regenerate(client, cid, failed[1]["id"])
    assert prompts_of(calls[-1]) == ["first"]
    assert _prompts(client, cid) == ["first"]
    send(client, cid, "third")
    assert prompts_of(calls[-1]) == ["first", "third"]
    assert _replies_sent(calls[-1]) == [reply_to("first")]


def test_a_stopped_reply_can_be_regenerated(make_client: Callable[..., TestClient]) -> None:
    gate = asyncio.Event()
    client = make_client(Scripted(["partial", " rest"], gate=gate).agent())
    cid = new_conversation(client)
    url = f"/api/conversations/{cid}/messages"
    with client.stream("POST", url, json={"prompt": "go"}) as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("event: text"):
                break
        run_id = client.get(f"/api/conversations/{cid}").json()["active_run_id"]
        assert client.post(f"/api/runs/{run_id}/stop").status_code == 202
        assert parse_sse("\n".join(lines))[-1].data["status"] == "stopped"
    stopped = branch(client, cid)[1]
    client.portal.call(gate.set)  # type: ignore[union-attr]
    frames = regenerate(client, cid, stopped["id"])
    assert frames[-1].data["status"] == "complete"
    shown = branch(client, cid)
    assert shown[1]["siblings"] == [stopped["id"], shown[1]["id"]]
    assert texts_of(client, cid, shown) == ["go", "partial rest"]


def test_edit_regenerate_switch_and_fork_wait_for_the_reply_being_generated(
    make_client: Callable[..., TestClient],
) -> None:
    gate = asyncio.Event()
    client = make_client(Scripted(["a", "b"], gate=gate).agent())
    cid = new_conversation(client)
    client.portal.call(gate.set)  # type: ignore[union-attr]
    send(client, cid, "first")
    first = branch(client, cid)
    client.portal.call(gate.clear)  # type: ignore[union-attr]
    base = f"/api/conversations/{cid}"
    with client.stream("POST", f"{base}/messages", json={"prompt": "second"}) as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("event: text"):
                break
        refused = [
            client.post(f"{base}/messages/{first[0]['id']}/edit", json={"prompt": "x"}),
            client.post(f"{base}/messages/{first[1]['id']}/regenerate"),
            client.put(f"{base}/branch", json={"message_id": first[1]["id"]}),
        ]
        assert [r.status_code for r in refused] == [409, 409, 409]
        assert all("already being generated" in r.json()["detail"] for r in refused)
        client.portal.call(gate.set)  # type: ignore[union-attr]
        assert parse_sse("\n".join(lines))[-1].data["status"] == "complete"
    assert _prompts(client, cid) == ["first", "second"]


def test_the_wrong_message_gets_a_clear_4xx(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    cid = new_conversation(client)
    other = new_conversation(client)
    send(client, cid, "hello")
    send(client, other, "elsewhere")
    user, reply = branch(client, cid)
    foreign = branch(client, other)[0]["id"]
    base = f"/api/conversations/{cid}"
    cases: list[tuple[Any, int, str]] = [
        (client.post(f"{base}/messages/{reply['id']}/edit", json={"prompt": "x"}), 422, "edit"),
        (client.post(f"{base}/messages/{user['id']}/regenerate"), 422, "regenerat"),
        (client.post(f"{base}/messages/nope/regenerate"), 404, "No such message"),
        (client.post(f"{base}/messages/{foreign}/edit", json={"prompt": "x"}), 404, "No such"),
        (client.put(f"{base}/branch", json={"message_id": foreign}), 404, "No such message"),
        (client.post(f"{base}/fork", json={"message_id": "nope"}), 404, "No such message"),
        (client.put(f"{base}/branch", json={}), 422, "message_id"),
        (client.post(f"{base}/messages/{user['id']}/edit", json={"prompt": " "}), 422, "empty"),
        (client.post(f"{base}/messages/{user['id']}/edit", json={"prompt": "\x00"}), 422, ""),
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]
    # Nothing was written by any of them.
    assert [m["id"] for m in branch(client, cid)] == [user["id"], reply["id"]]
    assert all(len(m["siblings"]) == 1 for m in branch(client, cid))


def test_fork_copies_the_branch_up_to_the_message(make_client: Callable[..., TestClient]) -> None:
    echo = Echo()
    client = make_client(echo.agent())
    cid = new_conversation(client)
    for prompt in ("one", "two", "three"):
        send(client, cid, prompt)
    original = branch(client, cid)
    title = client.get(f"/api/conversations/{cid}").json()["title"]

    response = client.post(f"/api/conversations/{cid}/fork", json={"message_id": original[3]["id"]})
    assert response.status_code == 201, response.text
    fork = response.json()
    assert fork["title"] == f"{title} (fork)" and fork["id"] != cid
    copied = branch(client, fork["id"])
    assert texts_of(client, fork["id"], copied) == texts_of(client, cid, original[:4])
    assert not {m["id"] for m in copied} & {m["id"] for m in original}
    listed = [c["id"] for c in client.get("/api/conversations").json()["items"]]
    assert listed[0] == fork["id"]

    send(client, fork["id"], "elsewhere")
    assert prompts_of(echo.calls[-1]) == ["one", "two", "elsewhere"]
    assert _replies_sent(echo.calls[-1]) == [reply_to("one"), reply_to("two")]
    # The original is untouched.
    assert [m["id"] for m in branch(client, cid)] == [m["id"] for m in original]


def test_pinned_conversations_come_first_and_archived_ones_apart(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    a, b, c = (new_conversation(client) for _ in range(3))

    def listed(**params: Any) -> list[str]:
        found: list[str] = []
        cursor = None
        while True:
            query = params | ({"cursor": cursor} if cursor else {}) | {"limit": 1}
            page = client.get("/api/conversations", params=query).json()
            found += [item["id"] for item in page["items"]]
            if not (cursor := page["next_cursor"]):
                return found

    assert listed() == [c, b, a]
    pinned = client.patch(f"/api/conversations/{a}", json={"pinned": True}).json()
    assert pinned["pinned"] is True and pinned["title"] == "New chat"
    assert listed() == [a, c, b]
    assert client.patch(f"/api/conversations/{c}", json={"archived": True}).json()["archived"]
    assert listed() == [a, b]
    assert listed(archived="true") == [c]
    client.patch(f"/api/conversations/{c}", json={"archived": False})
    client.patch(f"/api/conversations/{a}", json={"pinned": False})
    assert listed() == [c, b, a]
    empty = client.patch(f"/api/conversations/{a}", json={})
    assert empty.status_code == 422 and "title, pinned, archived" in empty.json()["detail"]


def test_a_page_around_a_deep_message_then_paging_both_ways(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(Echo().agent())
    cid, ids = seed_conversation(database_url, 2_000)
    url = f"/api/conversations/{cid}/messages"

    third = client.get(url, params={"around": ids[2], "limit": 50}).json()
    assert [m["id"] for m in third["items"]] == ids[:50]
    assert third["next_cursor"] is None and third["newer_cursor"] == ids[49]
    newer = client.get(url, params={"after": third["newer_cursor"], "limit": 50}).json()
    assert [m["id"] for m in newer["items"]] == ids[50:100]

    middle = client.get(url, params={"around": ids[1000], "limit": 50}).json()
    assert [m["id"] for m in middle["items"]] == ids[975:1025]
    assert (middle["next_cursor"], middle["newer_cursor"]) == (ids[975], ids[1024])
    last = client.get(url, params={"after": ids[1949], "limit": 50}).json()
    assert [m["id"] for m in last["items"]] == ids[1950:] and last["newer_cursor"] is None
    newest = client.get(url, params={"limit": 50}).json()
    assert newest["newer_cursor"] is None and newest["next_cursor"] == ids[1950]

    both = client.get(url, params={"around": ids[3], "before": ids[9]})
    assert both.status_code == 422 and "at most one" in both.json()["detail"]
    unknown = client.get(url, params={"around": "not-on-this-branch"})
    assert unknown.status_code == 422


def test_two_processes_agree_on_the_current_branch(
    database_url: str, serve: Callable[..., Server]
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process")
    migrate(database_url)
    first, second = side_by_side(serve, 2, "--agent", QUICK_AGENT)
    with http_client(first.url) as a, http_client(second.url) as b:
        cid = new_conversation(a)
        send(a, cid, "one")
        send(a, cid, "two")
        shown = branch(a, cid)
        # The quick agent's reply names how many prompts it was sent.
        assert regenerate(b, cid, shown[3]["id"])[-1].data["status"] == "complete"
        assert [m["id"] for m in branch(a, cid)] == [m["id"] for m in branch(b, cid)]
        assert branch(a, cid)[3]["siblings"] == [shown[3]["id"], branch(b, cid)[3]["id"]]

        switch(a, cid, shown[3]["id"])
        assert branch(b, cid)[3]["id"] == shown[3]["id"]
        send(b, cid, "three")
        texts = texts_of(b, cid, branch(b, cid))
        assert texts[4] == "three" and texts[5].endswith("This is answer 3 of this conversation.")


def test_an_interrupted_reply_can_be_regenerated(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    echo = Echo()
    client = make_client(echo.agent())
    cid, ids = seed_conversation(database_url, 2, text=lambda i: ["cut short?", "half a"][i])

    async def interrupt() -> None:
        async with engine_on(database_url) as engine, engine.begin() as conn:
            await conn.execute(
                messages.update().where(messages.c.id == ids[1]).values(status="interrupted")
            )

    run_in_thread(interrupt())
    frames = regenerate(client, cid, ids[1])
    assert frames[-1].data["status"] == "complete"
    assert prompts_of(echo.calls[-1]) == ["cut short?"]
    shown = branch(client, cid)
    assert shown[1]["siblings"] == [ids[1], shown[1]["id"]]
    assert texts_of(client, cid, shown)[1] == reply_to("cut short?")


def test_a_burst_of_edits_and_regenerations_starts_exactly_one_reply(database_url: str) -> None:
    """Each request decides inside its own transaction: only one of a burst gets through."""
    with serve_in_thread(words_agent(200, 0.01), database_url) as url:
        seeded_cid, ids = seed_conversation(database_url, 4, text=lambda i: f"m{i}")
        routes = [
            (
                f"/api/conversations/{seeded_cid}/messages/{ids[i % 4]}/"
                + ("edit" if i % 2 == 0 else "regenerate"),
                {"prompt": "again"} if i % 2 == 0 else {},
            )
            for i in range(8)
        ]
        barrier = threading.Barrier(len(routes))

        def one(route: tuple[str, dict[str, str]]) -> tuple[int, str | None]:
            path, body = route
            with http_client(url) as client:
                client.get("/api/auth/me")  # connect now
                barrier.wait(timeout=30)
                with client.stream("POST", path, json=body) as response:
                    if response.status_code != 200:
                        return response.status_code, None
                    for frame in iter_frames(response.iter_lines()):
                        if frame.event == "start":
                            return 200, frame.data["run_id"]
            return 0, None

        with ThreadPoolExecutor(len(routes)) as pool:
            answers = list(pool.map(one, routes))
        assert sorted(status for status, _ in answers) == [200] + [409] * 7, answers
        run_id = next(r for _, r in answers if r)
        with http_client(url) as client:
            assert client.post(f"/api/runs/{run_id}/stop", json={}).status_code == 202
            deadline = time.monotonic() + 20
            while client.get(f"/api/conversations/{seeded_cid}").json()["active_run_id"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            shown = client.get(f"/api/conversations/{seeded_cid}/messages").json()["items"]
        generated = [m for m in shown if m["id"] not in ids]
        # An edit adds a prompt and its reply, a regeneration a reply.
        assert len(generated) in (1, 2) and generated[-1]["status"] == "stopped"
