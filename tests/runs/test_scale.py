"""Several Parley processes on one PostgreSQL: reattach, stop and crashes across processes,
and `parley db copy` from SQLite into PostgreSQL."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from parley.app import create_app
from parley.settings import Settings

from ..support.agents_for_cli import slow_reply
from ..support.cli import add_user, migrate, run_cli
from ..support.client import (
    Client,
    Frame,
    event_ids,
    iter_frames,
    new_conversation,
    parse_sse,
    send,
    texts_of,
    wait_until_saved,
)
from ..support.databases import sqlite_url
from ..support.models import Echo
from ..support.processes import Server, servers, side_by_side

pytestmark = pytest.mark.slow

SLOW_AGENT = "tests.support.agents_for_cli:slow_agent"
# Checkpoints (heartbeats) five times a second; a run without one for a second is stale.
RUNS_ENV = {"PARLEY_CHECKPOINT_INTERVAL": "0.2", "PARLEY_RUN_STALE_AFTER": "1"}


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Server, Server]]:
    """Two `parley serve` processes with the slow agent on the test's PostgreSQL database."""
    migrate(postgres_url)
    with servers(tmp_path, postgres_url) as start:
        a, b = side_by_side(start, 2, "--agent", SLOW_AGENT, env=RUNS_ENV)
        yield a, b


def _start_reply(client: httpx.Client, cid: str, prompt: str, words: int) -> tuple[str, str]:
    """Send `prompt` and hang up after `words` words; returns the run id and the text so far."""
    run_id = ""
    text = ""
    url = f"/api/conversations/{cid}/messages"
    with client.stream("POST", url, json={"prompt": prompt}) as response:
        for frame in iter_frames(response.iter_lines()):
            if frame.event == "start":
                run_id = frame.data["run_id"]
            elif frame.event == "text":
                text += frame.data["d"]
                if text.count(" ") >= words:
                    break
    return run_id, text


def _events(client: httpx.Client, run_id: str, after: int = -1) -> list[Frame]:
    with client.stream(
        "GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(after)}
    ) as response:
        assert response.status_code == 200
        return parse_sse(response.read().decode())


def test_a_reply_started_on_one_process_is_watched_and_stopped_on_another(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    with a.client() as on_a, b.client() as on_b:
        cid = new_conversation(on_a)
        run_id, seen = _start_reply(on_a, cid, "tell me", words=5)

        # B shows it running and replays it from the start, then follows it live to the end.
        items = on_b.get(f"/api/conversations/{cid}/messages").json()["items"]
        assert items[-1]["status"] == "generating"
        assert items[-1]["run_id"] == run_id
        frames = _events(on_b, run_id)
        text = "".join(f.data["d"] for f in frames if f.event == "text")
        assert text == slow_reply()
        assert text.startswith(seen)
        ids = event_ids(frames)
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert frames[-1].event == "done"
        assert frames[-1].data["status"] == "complete"

        # Reattach on B with Last-Event-ID mid-way: the rest, exactly once.
        middle = frames[len(frames) // 2]
        assert middle.id is not None
        rest = _events(on_b, run_id, after=middle.id)
        head = "".join(
            f.data["d"]
            for f in frames
            if f.event == "text" and f.id is not None and f.id <= middle.id
        )
        assert head + "".join(f.data["d"] for f in rest if f.event == "text") == slow_reply()

        # A second reply, started on A, stopped through B.
        run_id, _ = _start_reply(on_a, cid, "again", words=3)
        assert on_b.post(f"/api/runs/{run_id}/stop", json={}).status_code == 202
        frames = _events(on_b, run_id)
        assert frames[-1].data["status"] == "stopped"
        last = on_a.get(f"/api/conversations/{cid}/messages").json()["items"][-1]
        assert last["status"] == "stopped"
        kept = texts_of(on_a, cid, [last])[0]
        assert kept and slow_reply().startswith(kept)

        # One reply at a time per conversation, across processes.
        run_id, _ = _start_reply(on_a, cid, "third", words=1)
        busy = on_b.post(f"/api/conversations/{cid}/messages", json={"prompt": "no"})
        assert busy.status_code == 409
        on_b.post(f"/api/runs/{run_id}/stop", json={})


def test_a_dead_process_has_its_replies_marked_interrupted_by_the_others(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    with a.client() as on_a, b.client() as on_b:
        cid = new_conversation(on_a)
        run_id, seen = _start_reply(on_a, cid, "long story", words=10)
        wait_until_saved(on_b, cid, seen)  # past a checkpoint of A's
        os.kill(a.process.pid, signal.SIGKILL)
        a.process.wait(timeout=10)

        # B, still running, notices A stopped beating and marks the reply; a watcher on B is
        # told the reply ended.
        frames = _events(on_b, run_id)
        assert frames[-1].event == "done"
        assert frames[-1].data["status"] == "interrupted"
        items = on_b.get(f"/api/conversations/{cid}/messages").json()["items"]
        assert items[-1]["status"] == "interrupted"
        kept = texts_of(on_b, cid, items)[-1]
        assert len(kept) >= len(seen.strip())
        assert slow_reply().startswith(kept)
        frames = send(on_b, cid, "are you there?")
        assert frames[-1].data["status"] == "complete"


def test_parley_db_copy_moves_sqlite_into_postgresql(postgres_url: str, tmp_path: Path) -> None:
    source = sqlite_url(tmp_path / "source.db")
    add_user(source, "ann", "a long password")
    with TestClient(_app(source), base_url="http://localhost") as client:
        for i in range(2):
            cid = new_conversation(client)
            send(client, cid, f"question {i}")
            send(client, cid, f"follow-up {i}")
        before = _everything(client)

    copied = run_cli("db", "copy", source, postgres_url)
    assert copied.returncode == 0, copied.stderr
    again = run_cli("db", "copy", source, postgres_url)
    assert again.returncode == 1 and "not empty" in again.stderr

    counts = {line.split()[0]: int(line.split()[1]) for line in copied.stdout.splitlines()}
    assert counts["users"] == 1
    assert counts["conversations"] == 2
    assert counts["messages"] == 8
    with TestClient(_app(postgres_url), base_url="http://localhost") as client:
        assert _everything(client) == before


def _app(database_url: str) -> FastAPI:
    return create_app(Settings(database_url=database_url), agent=Echo().agent())


def _everything(client: Client) -> list[Any]:
    """Every conversation with every message and its export, as the API shows them."""
    out: list[Any] = []
    for conversation in client.get("/api/conversations").json()["items"]:
        cid = conversation["id"]
        out.append(conversation)
        out.append(client.get(f"/api/conversations/{cid}/messages").json())
        exported = client.get(f"/api/conversations/{cid}/export").json()
        out.append({k: v for k, v in exported.items() if k != "exported_at"})
    return out


def test_a_process_never_interrupts_its_own_live_replies(
    make_client: Callable[..., TestClient],
) -> None:
    # The reaper runs every 50 ms and calls a run stale after 100 ms without a heartbeat, but
    # no checkpoint (the heartbeat) comes for 30 s: only the process id keeps the run alive.
    client = make_client(
        Echo(chunk=1, delay=0.02).agent(), run_stale_after=0.1, checkpoint_interval=30
    )
    cid = new_conversation(client)
    frames = send(client, cid, "take your time")
    assert frames[-1].data["status"] == "complete"
    run_id = frames[1].data["run_id"]
    saved = client.get(f"/api/conversations/{cid}/messages").json()["items"][-1]
    assert saved["status"] == "complete"
    run_store = client.app.state.services.runs.run_store  # type: ignore[attr-defined]
    stored, finished = client.portal.call(run_store.events_after, run_id, -1)  # type: ignore[union-attr]
    assert finished
    # Events are stored only where other processes may stream them (PostgreSQL).
    if client.app.state.services.runs.share_events:  # type: ignore[attr-defined]
        assert stored[-1] == ("done", stored[-1][1])
        assert stored[-1][1]["status"] == "complete"
    else:
        assert stored == []
    assert all(data.get("status") != "interrupted" for _, data in stored)
