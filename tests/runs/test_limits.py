"""The limits on replies, under real concurrency: replies per user and one reply per
conversation against bursts of simultaneous sends (in one server, and spread over two
`parley serve` processes on one PostgreSQL), a conversation deleted on one process while another
generates its reply, and what another user can learn about a conversation and its reply
(nothing)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from parley.accounts.store import Accounts
from parley.db.ids import new_id
from parley.db.tables import messages, run_events, runs

from ..support.agents_for_cli import LONG_WORDS, long_agent
from ..support.browser import serve as serve_in_thread
from ..support.cli import add_user, create_token, migrate
from ..support.client import Client, Frame, iter_frames, new_conversation
from ..support.databases import engine_on, run_in_thread
from ..support.models import Scripted
from ..support.processes import Server, http_client, settings_env, side_by_side

pytestmark = pytest.mark.slow

# Generates for a minute unless stopped: every reply a test starts is still generating when the
# test looks, however slow the machine.
LONG_AGENT = "tests.support.agents_for_cli:long_agent"
ONE_PROCESS = "SQLite serves one process"
PASSWORD = "correct horse battery"
# How long a stopped reply may take to end: seconds where it would take a minute unstopped.
STOP_DEADLINE = 30.0


class Response(Protocol):
    """What these tests read of a response, from httpx or from TestClient (httpx2)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    def json(self, **kwargs: Any) -> Any: ...


@dataclass
class Answer:
    """What a send got back: the status, the JSON error (if refused), the run (if started)."""

    status: int
    detail: Any
    retry_after: str | None
    run_id: str | None


def _send(client: httpx.Client, cid: str, headers: dict[str, str] | None = None) -> Answer:
    """Send a prompt; for a reply that starts, read up to its `start` event and hang up (the
    reply goes on generating on the server)."""
    url = f"/api/conversations/{cid}/messages"
    with client.stream("POST", url, json={"prompt": "go"}, headers=headers) as response:
        if response.status_code != 200:
            response.read()
            return Answer(
                response.status_code, response.json(), response.headers.get("retry-after"), None
            )
        for frame in iter_frames(response.iter_lines()):
            if frame.event == "start":
                return Answer(200, None, None, frame.data["run_id"])
    pytest.fail("a reply started without a start event")


def _at_once(targets: list[tuple[str, str]], headers: dict[str, str] | None = None) -> list[Answer]:
    """One send per (server URL, conversation), each from its own thread, all released together.

    Each thread opens its connection before the barrier, so what the barrier releases is the
    sends themselves.
    """
    barrier = threading.Barrier(len(targets))

    def one(target: tuple[str, str]) -> Answer:
        url, cid = target
        with http_client(url) as client:
            client.get("/api/auth/me")  # connect now
            barrier.wait(timeout=60)
            return _send(client, cid, headers)

    with ThreadPoolExecutor(len(targets)) as pool:
        return list(pool.map(one, targets))


def _stop_all(client: httpx.Client, answers: list[Answer], headers: dict[str, str]) -> None:
    for answer in answers:
        if answer.run_id is not None:
            stopped = client.post(f"/api/runs/{answer.run_id}/stop", json={}, headers=headers)
            assert stopped.status_code == 202


def _wait_until_idle(client: httpx.Client, headers: dict[str, str] | None = None) -> None:
    """Until no conversation of the caller has a reply generating (the runs stopped)."""
    deadline = time.monotonic() + STOP_DEADLINE
    while time.monotonic() < deadline:
        items = client.get("/api/conversations", params={"limit": 200}, headers=headers).json()
        if all(c["active_run_id"] is None for c in items["items"]):
            return
        time.sleep(0.1)
    pytest.fail("stopped replies were still generating")


def _rows(database_url: str, table: sa.Table, condition: sa.ColumnElement[bool]) -> int:
    async def count() -> int:
        async with engine_on(database_url) as engine, engine.connect() as conn:
            found = await conn.scalar(
                sa.select(sa.func.count()).select_from(table).where(condition)
            )
            return int(found or 0)

    return run_in_thread(count())


def _needs_processes(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip(ONE_PROCESS)


@contextmanager
def _long_replies(
    database_url: str, serve: Callable[..., Server], count: int, **settings: Any
) -> Iterator[list[str]]:
    """The base URLs of `count` servers with LONG_AGENT and `settings` on the test's database.

    One server is served from a thread of this process: a real HTTP server, without an
    interpreter to start. More (PostgreSQL only) are `parley serve` processes.
    """
    if count == 1:
        with serve_in_thread(long_agent, database_url, **settings) as url:
            yield [url]
        return
    _needs_processes(database_url)
    migrate(database_url)
    started = side_by_side(serve, count, "--agent", LONG_AGENT, env=settings_env(**settings))
    yield [server.url for server in started]


# -- Replies per user ------------------------------------------------------------------------


@pytest.mark.parametrize("processes", [1, 2])
def test_a_burst_of_sends_starts_exactly_max_runs_per_user_replies(
    database_url: str, serve: Callable[..., Server], processes: int
) -> None:
    with (
        _long_replies(database_url, serve, processes, max_runs_per_user=4) as urls,
        http_client(urls[0]) as client,
    ):
        cids = [new_conversation(client) for _ in range(12)]
        # Round robin: with two processes, six sends on each.
        answers = _at_once([(urls[i % processes], cid) for i, cid in enumerate(cids)])

        statuses = sorted(a.status for a in answers)
        assert statuses == [200] * 4 + [429] * 8, [(a.status, a.detail) for a in answers]
        for refused in (a for a in answers if a.status == 429):
            assert isinstance(refused.detail, dict)
            assert "replies being generated" in refused.detail["detail"]
            assert refused.retry_after is not None and int(refused.retry_after) > 0

        # The four are generating at once, and they are the only ones.
        listed = client.get("/api/conversations", params={"limit": 200}).json()["items"]
        active = {c["active_run_id"] for c in listed} - {None}
        assert active == {a.run_id for a in answers if a.status == 200}

        # Once they are stopped, the user may start replies again.
        _stop_all(client, answers, {})
        _wait_until_idle(client)
        again = _send(client, cids[0])
        assert again.status == 200
        _stop_all(client, [again], {})


# -- One reply per conversation ----------------------------------------------------------------


@pytest.mark.parametrize("processes", [1, 2])
def test_a_burst_of_sends_into_one_conversation_starts_one_reply(
    database_url: str, serve: Callable[..., Server], processes: int
) -> None:
    with _long_replies(database_url, serve, processes) as urls, http_client(urls[0]) as client:
        cid = new_conversation(client)
        answers = _at_once([(urls[i % processes], cid) for i in range(8)])

        statuses = sorted(a.status for a in answers)
        assert statuses == [200] + [409] * 7, [(a.status, a.detail) for a in answers]
        for refused in (a for a in answers if a.status == 409):
            assert isinstance(refused.detail, dict)
            assert "already being generated" in refused.detail["detail"]

        # One prompt and one reply were saved, not eight prompts.
        items = client.get(f"/api/conversations/{cid}/messages").json()["items"]
        assert [m["role"] for m in items] == ["user", "assistant"]
        started = next(a for a in answers if a.status == 200)
        assert items[-1]["run_id"] == started.run_id
        assert items[-1]["status"] == "generating"
        _stop_all(client, answers, {})


# -- Deleting a conversation while another process generates its reply -----------------------


def test_deleting_a_conversation_on_one_process_stops_its_reply_on_another(
    database_url: str, serve: Callable[..., Server]
) -> None:
    _needs_processes(database_url)
    migrate(database_url)
    a, b = side_by_side(serve, 2, "--agent", LONG_AGENT)
    with a.client() as on_a, b.client() as on_b:
        cid = new_conversation(on_a)
        url = f"/api/conversations/{cid}/messages"
        timeout = httpx.Timeout(10.0, read=15.0)
        frames: list[Frame] = []
        with on_a.stream("POST", url, json={"prompt": "go on"}, timeout=timeout) as response:
            assert response.status_code == 200
            stream = iter_frames(response.iter_lines())
            for frame in stream:
                frames.append(frame)
                if frame.event == "text":
                    break
            run_id = next(f.data["run_id"] for f in frames if f.event == "start")

            deleted = on_b.delete(f"/api/conversations/{cid}")
            assert deleted.status_code == 204

            # A stops generating: its stream ends with `done`, in seconds, not the minute the
            # reply would take (the read timeout bounds a silent stream, the deadline a live one).
            deadline = time.monotonic() + STOP_DEADLINE
            for frame in stream:
                frames.append(frame)
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"the reply went on for {STOP_DEADLINE} s after its conversation was "
                        f"deleted\n--- the end of process A's log ---\n{a.output()[-6000:]}"
                    )

        assert frames[-1].event == "done", frames[-3:]
        assert frames[-1].data["status"] != "complete"
        text = "".join(f.data["d"] for f in frames if f.event == "text")
        assert text.count(" ") < LONG_WORDS

        assert on_a.get(f"/api/conversations/{cid}").status_code == 404
        assert on_b.get(f"/api/conversations/{cid}").status_code == 404

    # Once A has shut down (everything it was going to write is written), nothing of the
    # conversation is left: no run, no events, no messages.
    a.stop()
    assert _rows(database_url, runs, runs.c.conversation_id == cid) == 0, a.output()
    assert _rows(database_url, runs, runs.c.id == run_id) == 0, a.output()
    assert _rows(database_url, run_events, run_events.c.run_id == run_id) == 0, a.output()
    assert _rows(database_url, messages, messages.c.conversation_id == cid) == 0, a.output()


# -- The existence oracle ------------------------------------------------------------------------

# Every request about one conversation or one reply, with {cid} and {run} to fill in.
ABOUT_ONE: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
    ("GET", "/api/conversations/{cid}", None, {}),
    ("GET", "/api/conversations/{cid}/messages", None, {}),
    ("POST", "/api/conversations/{cid}/messages", {"prompt": "hello"}, {}),
    ("PATCH", "/api/conversations/{cid}", {"title": "mine now"}, {}),
    ("DELETE", "/api/conversations/{cid}", None, {}),
    ("GET", "/api/conversations/{cid}/export", None, {}),
    ("GET", "/api/conversations/{cid}/export?format=markdown", None, {}),
    ("GET", "/api/runs/{run}/events", None, {}),
    ("GET", "/api/runs/{run}/events", None, {"Last-Event-ID": "0"}),
    ("POST", "/api/runs/{run}/stop", {}, {}),
]

Call = Callable[[str, str, dict[str, Any] | None, dict[str, str]], tuple[int, str, Any]]


def _as_json(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _caller(client: Client, bearer: dict[str, str]) -> Call:
    """Requests through `client` with `bearer`'s Authorization: what each answered."""

    def call(
        method: str, url: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> tuple[int, str, Any]:
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        response = client.request(method, url, headers=bearer | headers, **kwargs)
        return response.status_code, response.headers.get("content-type", ""), _as_json(response)

    return call


def _compare(call: Call, cid: str, run_id: str) -> None:
    """Each request about alice's conversation and reply answers bob exactly as the same
    request about ids that never existed."""
    never_cid, never_run = new_id(), new_id()
    for method, template, body, headers in ABOUT_ONE:
        theirs = call(method, template.format(cid=cid, run=run_id), body, headers)
        nothing = call(method, template.format(cid=never_cid, run=never_run), body, headers)
        assert theirs == nothing, (method, template)
        assert theirs[0] == 404, (method, template, theirs)


def _check_alice_untouched(
    get: Callable[[str], Response], cid: str, run_id: str, title: str
) -> None:
    conversation = get(f"/api/conversations/{cid}")
    assert conversation.status_code == 200
    assert conversation.json()["title"] == title
    assert conversation.json()["active_run_id"] == run_id
    items = get(f"/api/conversations/{cid}/messages").json()["items"]
    assert [m["role"] for m in items] == ["user", "assistant"]
    assert items[-1]["status"] == "generating"


def test_another_user_learns_nothing_of_a_conversation_or_its_reply(
    make_client: Callable[..., TestClient],
) -> None:
    gate = asyncio.Event()
    client = make_client(Scripted(["secret ", "words"], gate=gate).agent(), auth="accounts")
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    bearer: dict[str, dict[str, str]] = {}
    for name in ("alice", "bob"):
        user = client.portal.call(accounts.add_user, name, PASSWORD)  # type: ignore[union-attr]
        _, secret = client.portal.call(accounts.create_token, user, "tests")  # type: ignore[union-attr]
        bearer[name] = {"Authorization": f"Bearer {secret}"}

    cid = client.post("/api/conversations", json={}, headers=bearer["alice"]).json()["id"]
    url = f"/api/conversations/{cid}/messages"
    try:
        with client.stream(
            "POST", url, json={"prompt": "my secret"}, headers=bearer["alice"]
        ) as response:
            assert response.status_code == 200
            run_id = next(
                f.data["run_id"] for f in iter_frames(response.iter_lines()) if f.event == "start"
            )
            title = client.get(f"/api/conversations/{cid}", headers=bearer["alice"]).json()["title"]

            _compare(_caller(client, bearer["bob"]), cid, run_id)

            def as_alice(path: str) -> Response:
                return client.get(path, headers=bearer["alice"])

            _check_alice_untouched(as_alice, cid, run_id, title)
            stop = client.post(f"/api/runs/{run_id}/stop", json={}, headers=bearer["alice"])
            assert stop.status_code == 202
    finally:
        client.portal.call(gate.set)  # type: ignore[union-attr]


def test_another_user_learns_nothing_across_processes(
    database_url: str, serve: Callable[..., Server]
) -> None:
    # Bob asks the server generating alice's reply, and (PostgreSQL) another process, which
    # knows of it only from the database.
    count = 1 if database_url.startswith("sqlite") else 2
    with _long_replies(database_url, serve, count, auth="accounts") as urls:
        bearer = {name: _user_with_token(database_url, name) for name in ("alice", "bob")}
        _oracle_across(urls, bearer)


def _oracle_across(urls: list[str], bearer: dict[str, dict[str, str]]) -> None:
    with http_client(urls[0]) as on_a:
        cid = on_a.post("/api/conversations", json={}, headers=bearer["alice"]).json()["id"]
        started = _send(on_a, cid, bearer["alice"])
        assert started.status == 200 and started.run_id is not None
        run_id = started.run_id
        title = on_a.get(f"/api/conversations/{cid}", headers=bearer["alice"]).json()["title"]

        for url in urls:
            with http_client(url) as client:
                _compare(_caller(client, bearer["bob"]), cid, run_id)

        def as_alice(path: str) -> Response:
            return on_a.get(path, headers=bearer["alice"])

        _check_alice_untouched(as_alice, cid, run_id, title)
        _stop_all(on_a, [started], bearer["alice"])


def _user_with_token(database_url: str, name: str) -> dict[str, str]:
    """Add a user with the CLI and give them an API token; returns the Authorization header."""
    add_user(database_url, name, PASSWORD)
    return {"Authorization": f"Bearer {create_token(database_url, name)}"}
