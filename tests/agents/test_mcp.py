"""MCP servers as tools: the config file, the approval policy, servers started once for many
runs, a broken or disabled server, a conversation switching a server off, and GET /api/tools.

The servers are real: a stdio server (tests/support/mcp_servers.py run as a script, started by
Parley from a config file) and a streamable-HTTP one in a thread on 127.0.0.1. The model is a
FunctionModel calling the tools by their prefixed names (tests/support/mcp_agents.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic_ai.tools import ToolDefinition

from parley.agents.mcp import McpConfigError, McpServers, needs_approval, read_config
from parley.agents.mcp.servers import _describe_error
from parley.app import create_app
from parley.settings import Settings

from ..support.client import Frame, new_conversation, send
from ..support.mcp_agents import ToolCaller
from ..support.mcp_servers import http_server, starts_of, stdio_command
from ..support.processes import Server

Config = dict[str, Any]


def _write(path: Path, servers: Config) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def _exits_at_once() -> Config:
    return {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"]}


@pytest.fixture
def weather_url() -> Iterator[str]:
    with http_server() as url:
        yield url


def _result(frames: list[Frame]) -> dict[str, Any]:
    results = [f.data for f in frames if f.event == "tool_result"]
    assert len(results) == 1, [f.event for f in frames]
    found: dict[str, Any] = results[0]
    return found


def _servers(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/api/tools")
    assert response.status_code == 200, response.text
    return {s["name"]: s for s in response.json()["servers"]}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped yet is a zombie: gone for this test's purpose.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split(") ")[-1][:1] != "Z"


# ---- the approval policy ----


def _tool(annotations: dict[str, Any] | None) -> ToolDefinition:
    return ToolDefinition(name="t", metadata={"annotations": annotations})


@pytest.mark.parametrize(
    ("policy", "annotations", "asks"),
    [
        ("unless-read-only", {"readOnlyHint": True}, False),
        ("unless-read-only", {"readOnlyHint": False}, True),
        ("unless-read-only", {"destructiveHint": False}, True),
        ("unless-read-only", None, True),
        ("always", {"readOnlyHint": True}, True),
        ("always", None, True),
        ("never", {"readOnlyHint": False, "destructiveHint": True}, False),
        ("never", None, False),
    ],
)
def test_approval_policy(policy: Any, annotations: dict[str, Any] | None, asks: bool) -> None:
    assert needs_approval(policy, _tool(annotations)) is asks


def test_a_tool_without_metadata_asks_unless_the_policy_says_never() -> None:
    bare = ToolDefinition(name="t")
    assert needs_approval("unless-read-only", bare)
    assert not needs_approval("never", bare)


# ---- the config file ----


def test_config_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_TEST_TOKEN", "s3cret-token")
    path = _write(
        tmp_path / "mcp.json",
        {
            "stdio": {"command": "tool", "args": ["--x"], "env": {"K": "${PARLEY_TEST_TOKEN}"}},
            "web": {
                "url": "http://127.0.0.1:1/${PARLEY_TEST_PATH:-mcp}",
                "headers": {"Authorization": "Bearer ${PARLEY_TEST_TOKEN}"},
                "approval": "always",
                "type": "http",  # another client's key: ignored
            },
            # Disabled: its undefined variable does not matter.
            "off": {"url": "http://${PARLEY_UNDEFINED}/", "disabled": True, "approval": "never"},
            "novar": {"url": "http://${PARLEY_UNDEFINED}/"},
            "policy": {"command": "tool", "approval": "sometimes"},
            "neither": {"args": []},
            "both": {"command": "tool", "url": "http://127.0.0.1:1/"},
            "bad name": {"command": "tool"},
        },
    )
    configs = {c.name: c for c in read_config(path)}
    stdio, web, off = configs["stdio"], configs["web"], configs["off"]
    assert (stdio.command, stdio.args, stdio.env) == ("tool", ["--x"], {"K": "s3cret-token"})
    assert stdio.approval == "unless-read-only" and stdio.error is None
    assert web.url == "http://127.0.0.1:1/mcp" and web.approval == "always"
    assert web.headers == {"Authorization": "Bearer s3cret-token"}
    assert off.disabled and off.approval == "never" and off.error is None
    assert "PARLEY_UNDEFINED is not defined" in (configs["novar"].error or "")
    assert "approval" in (configs["policy"].error or "")
    assert "command" in (configs["neither"].error or "")
    assert "command" in (configs["both"].error or "")
    assert "name" in (configs["bad name"].error or "")


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "cannot read"), ("{not json", "not valid JSON"), ('{"servers": {}}', "mcpServers")],
)
def test_an_unusable_config_file_stops_start_up(
    tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "mcp.json"
    if content is not None:
        path.write_text(content)
    settings = Settings(database_url="sqlite+aiosqlite://", mcp_config=path)
    with pytest.raises(McpConfigError, match=says):
        create_app(settings, agent=ToolCaller().agent())


def test_error_messages_hide_the_servers_secrets(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "mcp.json",
        {"web": {"url": "http://127.0.0.1:1/", "headers": {"X-Key": "s3cret-value"}}},
    )
    (config,) = read_config(path)
    text = _describe_error(ExceptionGroup("x", [RuntimeError("refused: s3cret-value")]), config)
    assert text == "refused: …"


# ---- servers started once, tools called ----


@pytest.fixture
def mcp_client(
    make_client: Callable[..., TestClient], tmp_path: Path, weather_url: str
) -> tuple[TestClient, ToolCaller, Path]:
    """Parley with a stdio server (calc), an HTTP one (weather), a disabled one and a broken
    one; the model that calls their tools; the stdio server's start log."""
    starts = tmp_path / "starts.txt"
    config = _write(
        tmp_path / "mcp.json",
        {
            "calc": stdio_command(starts),
            "weather": {"url": weather_url},
            "off": {**stdio_command(tmp_path / "off-starts.txt"), "disabled": True},
            "broken": _exits_at_once(),
        },
    )
    caller = ToolCaller()
    return make_client(caller.agent(), mcp_config=config), caller, starts


def test_servers_and_tools_are_listed(mcp_client: tuple[TestClient, ToolCaller, Path]) -> None:
    client, _, _ = mcp_client
    servers = _servers(client)
    assert list(servers) == ["calc", "weather", "off", "broken"]
    calc, weather = servers["calc"], servers["weather"]
    assert (calc["status"], calc["error"], calc["approval"]) == (
        "running",
        None,
        "unless-read-only",
    )
    tools = {t["name"]: t for t in calc["tools"]}
    assert list(tools) == ["calc_add", "calc_pid", "calc_remember"]
    assert tools["calc_add"] == {
        "name": "calc_add",
        "description": "Add two whole numbers.",
        "read_only": True,
        "needs_approval": False,
    }
    assert tools["calc_remember"]["read_only"] is False
    assert tools["calc_remember"]["needs_approval"] is True
    assert weather["status"] == "running"
    assert [t["name"] for t in weather["tools"]] == ["weather_forecast"]
    assert servers["off"] == {
        "name": "off",
        "status": "disabled",
        "error": None,
        "approval": "unless-read-only",
        "tools": [],
    }
    broken = servers["broken"]
    assert broken["status"] == "error" and broken["tools"] == []
    assert broken["error"]  # why, in a sentence


def test_tools_of_both_transports_are_called(
    mcp_client: tuple[TestClient, ToolCaller, Path], tmp_path: Path
) -> None:
    client, caller, _ = mcp_client
    conversation = new_conversation(client)
    frames = send(client, conversation, 'call calc_add {"a": 2, "b": 3}')
    assert _result(frames)["tool_name"] == "calc_add"
    assert "2 + 3 = 5" in _result(frames)["content"]
    assert frames[-1].data["status"] == "complete"

    frames = send(client, conversation, 'call weather_forecast {"city": "Paris"}')
    assert "Sunny in Paris" in _result(frames)["content"]
    # The disabled and the broken server offer nothing; the others everything.
    assert caller.offered[-1] == [
        "calc_add",
        "calc_pid",
        "calc_remember",
        "weather_forecast",
    ]
    # The saved reply shows the call and its result.
    items = client.get(f"/api/conversations/{conversation}/messages").json()["items"]
    types = [p["type"] for p in items[-1]["parts"]]
    assert types[:2] == ["tool_call", "tool_result"]
    assert not (tmp_path / "off-starts.txt").exists()


def test_a_stdio_server_is_started_once_for_many_runs(
    mcp_client: tuple[TestClient, ToolCaller, Path],
) -> None:
    client, _, starts = mcp_client
    conversation = new_conversation(client)
    pids = {_result(send(client, conversation, "call calc_pid"))["content"] for _ in range(3)}
    # Three runs, one process: the one Parley started at start-up.
    assert len(starts_of(starts)) == 1
    assert len(pids) == 1 and starts_of(starts)[0] in pids.pop()


def test_the_stdio_server_stops_with_parley(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    starts = tmp_path / "starts.txt"
    config = _write(tmp_path / "mcp.json", {"calc": stdio_command(starts)})
    client = make_client(ToolCaller().agent(), mcp_config=config)
    (pid,) = starts_of(starts)
    assert _alive(int(pid))
    client.__exit__(None, None, None)
    deadline = time.monotonic() + 10
    while _alive(int(pid)):
        assert time.monotonic() < deadline, "the MCP server outlived Parley"
        time.sleep(0.05)


def test_a_conversation_switches_a_server_off(
    mcp_client: tuple[TestClient, ToolCaller, Path],
) -> None:
    client, caller, _ = mcp_client
    conversation = new_conversation(client)
    assert client.get(f"/api/conversations/{conversation}").json()["tools_off"] == []

    response = client.patch(f"/api/conversations/{conversation}", json={"tools_off": ["weather"]})
    assert response.status_code == 200, response.text
    assert response.json()["tools_off"] == ["weather"]
    listed = client.get("/api/conversations").json()["items"]
    assert [c["tools_off"] for c in listed if c["id"] == conversation] == [["weather"]]

    frames = send(client, conversation, 'call weather_forecast {"city": "Paris"}')
    assert caller.offered[-1] == ["calc_add", "calc_pid", "calc_remember"]
    assert not [f for f in frames if f.event == "tool_result"]
    # Another conversation still has every server.
    send(client, new_conversation(client), "hello")
    assert "weather_forecast" in caller.offered[-1]

    response = client.patch(f"/api/conversations/{conversation}", json={"tools_off": None})
    assert response.json()["tools_off"] == []
    frames = send(client, conversation, 'call weather_forecast {"city": "Oslo"}')
    assert "Sunny in Oslo" in _result(frames)["content"]


@pytest.mark.parametrize(
    "tools_off", [["no spaces"], [""], ["x" * 41], "weather", [["weather"]], ["a"] * 101]
)
def test_tools_off_is_checked(make_client: Callable[..., TestClient], tools_off: Any) -> None:
    client = make_client(ToolCaller().agent())
    conversation = new_conversation(client)
    response = client.patch(f"/api/conversations/{conversation}", json={"tools_off": tools_off})
    assert response.status_code == 422, response.text


def test_the_listing_holds_no_secrets(
    make_client: Callable[..., TestClient], tmp_path: Path, weather_url: str
) -> None:
    config = _write(
        tmp_path / "mcp.json",
        {
            "weather": {"url": weather_url, "headers": {"X-Api-Key": "s3cret-header"}},
            "calc": {**stdio_command(tmp_path / "starts.txt"), "env": {"TOKEN": "s3cret-env"}},
            "down": {"url": "http://127.0.0.1:9/mcp", "headers": {"X-Api-Key": "s3cret-down"}},
        },
    )
    client = make_client(ToolCaller().agent(), mcp_config=config)
    text = client.get("/api/tools").text
    assert json.loads(text)["servers"][0]["status"] == "running"
    for secret in ("s3cret", weather_url, sys.executable, "127.0.0.1:9"):
        assert secret not in text


def test_no_config_lists_no_servers(make_client: Callable[..., TestClient]) -> None:
    client = make_client(ToolCaller().agent())
    assert client.get("/api/tools").json() == {"servers": []}
    # Nothing can be added: the listing is all there is.
    assert client.post("/api/tools", json={"name": "x", "command": "sh"}).status_code == 405


def test_a_server_that_does_not_answer_in_time_is_an_error(tmp_path: Path) -> None:
    silent = {"command": sys.executable, "args": ["-c", "import time; time.sleep(30)"]}
    path = _write(tmp_path / "mcp.json", {"silent": silent})

    async def run() -> list[Any]:
        servers = McpServers.from_file(path, start_timeout=0.5)
        started = time.monotonic()
        await servers.start()
        assert time.monotonic() - started < 10
        try:
            return await servers.describe()
        finally:
            await servers.stop()

    (silent_view,) = asyncio.run(run())
    assert silent_view.status == "error"
    assert silent_view.error == "It did not start within 0.5 s."


# ---- a real `parley serve` ----


@pytest.mark.slow
def test_parley_serve_takes_the_config(
    serve: Callable[..., Server], tmp_path: Path, weather_url: str
) -> None:
    starts = tmp_path / "starts.txt"
    flag = _write(tmp_path / "flag.json", {"calc": stdio_command(starts)})
    server = serve("--agent", "tests.support.mcp_agents:agent", "--mcp-config", str(flag))
    with server.client() as client:
        conversation = new_conversation(client)
        for _ in range(2):
            frames = send(client, conversation, 'call calc_add {"a": 40, "b": 2}')
            assert "40 + 2 = 42" in _result(frames)["content"]
    (pid,) = starts_of(starts)
    server.stop()
    assert not _alive(int(pid))

    # PARLEY_MCP_CONFIG, the environment's way.
    env = _write(tmp_path / "env.json", {"weather": {"url": weather_url}})
    server = serve("--agent", "tests.support.mcp_agents:agent", env={"PARLEY_MCP_CONFIG": str(env)})
    with server.client() as client:
        listed = client.get("/api/tools").json()["servers"]
    assert [(s["name"], s["status"]) for s in listed] == [("weather", "running")]
