"""`parley serve --reload`: editing the agent's file changes the next reply, the conversations
survive the restart, and a reply the restart cuts is saved as interrupted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from ..support.client import parse_sse, saved_messages, send
from ..support.processes import Server

pytestmark = pytest.mark.slow

AGENT = """
import asyncio

from pydantic_ai import Agent
from pydantic_ai.models.function import FunctionModel

VERSION = "{version}"


async def stream(messages, info):
    prompt = messages[-1].parts[-1].content
    if prompt == "slow":
        for _ in range(600):
            yield "w "
            await asyncio.sleep(0.05)
        return
    yield f"version {{VERSION}} to {{prompt}}"


agent = Agent(FunctionModel(stream_function=stream))
"""


def _write(project: Path, version: str) -> None:
    (project / "bot.py").write_text(AGENT.format(version=version))


def _ask(client: httpx.Client, cid: str, prompt: str) -> str:
    frames = send(client, cid, prompt)
    assert frames[-1].data["status"] == "complete", frames
    text: str = saved_messages(client, cid)[-1]["text"]
    return text


def _restarted(server: Server, version: str, timeout: float = 60.0) -> None:
    """Wait until the server answers with the agent's new version."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with server.client() as client:
                cid = client.post("/api/conversations", json={}).json()["id"]
                if _ask(client, cid, "ping") == f"version {version} to ping":
                    return
        except (httpx.TransportError, AssertionError, ValueError):
            pass
        time.sleep(0.2)
    pytest.fail(f"no restart with version {version}:\n{server.output()}")


def test_editing_the_agent_restarts_and_keeps_the_conversations(
    tmp_path: Path, serve: Callable[..., Server]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    _write(project, "one")
    server = serve("--reload", "--agent", "bot.py:agent", cwd=project, script=True)
    with server.client() as client:
        kept = client.post("/api/conversations", json={}).json()["id"]
        assert _ask(client, kept, "hello") == "version one to hello"

        # A long reply is streaming when the file changes.
        cut = client.post("/api/conversations", json={}).json()["id"]
        streaming = threading.Event()
        body: list[str] = []

        def watch() -> None:
            try:
                with (
                    httpx.Client(base_url=server.url, trust_env=False, timeout=60) as c,
                    c.stream(
                        "POST", f"/api/conversations/{cut}/messages", json={"prompt": "slow"}
                    ) as response,
                ):
                    for chunk in response.iter_text():
                        body.append(chunk)
                        if "event: text" in "".join(body):
                            streaming.set()
            except httpx.TransportError:
                pass  # the old process went away mid-stream
            finally:
                streaming.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        assert streaming.wait(30)
        _write(project, "two")
        _restarted(server, "two")
        watcher.join(30)

    with server.client() as client:
        # The conversation from before the restart is all there, and goes on.
        before = [m["text"] for m in saved_messages(client, kept)]
        assert before == ["hello", "version one to hello"]
        assert _ask(client, kept, "again") == "version two to again"
        # The cut reply is saved as interrupted, with the words it had.
        frames = parse_sse("".join(body))
        assert any(f.event == "text" for f in frames)
        reply = saved_messages(client, cut)[-1]
        assert reply["status"] == "interrupted", reply
        assert reply["text"].startswith("w w"), reply
    assert "bot.py" in server.output() and "Reloading" in server.output()
