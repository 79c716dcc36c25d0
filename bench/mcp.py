"""What an MCP tool call costs a reply, first and tenth: `python -m bench.mcp` (~30 s).

Parley with two MCP servers from a config file: a stdio server (tests/support/mcp_servers.py,
a Python process of its own) and a streamable-HTTP one in a thread on 127.0.0.1. The model is
a `FunctionModel` that calls one tool and answers with its result (tests/support/mcp_agents.py).
Each turn is a real `POST …/messages` through the app in this process, timed from the request
to the end of its event stream (wall clock): the first run after start-up, then the others,
one after another in one conversation.

Beside it, the same runs through a bare Pydantic AI agent whose `MCPToolset` was not entered
before the run, as an app that does not hold its servers open would do: every run starts
the stdio server again. `start-up` is what Parley's start takes to start the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pydantic_ai.models
from fastapi.testclient import TestClient
from fastmcp.client.transports import StdioTransport
from pydantic_ai.mcp import MCPToolset
from tests.support.client import new_conversation, send
from tests.support.databases import sqlite_url
from tests.support.mcp_agents import ToolCaller
from tests.support.mcp_servers import http_server, starts_of, stdio_command

from parley.app import create_app
from parley.settings import Settings

from .table import table

pydantic_ai.models.ALLOW_MODEL_REQUESTS = False

_CALLS = {
    "stdio": 'call calc_add {"a": 2, "b": 3}',
    "http": 'call weather_forecast {"city": "Oslo"}',
}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _parley(directory: Path, url: str, runs: int) -> tuple[float, dict[str, list[float]], int]:
    """Start-up time, each transport's run times, and how often the stdio server started."""
    starts = directory / "starts.txt"
    config = directory / "mcp.json"
    servers = {"calc": stdio_command(starts), "weather": {"url": url, "approval": "never"}}
    config.write_text(json.dumps({"mcpServers": servers}))
    settings = Settings(
        database_url=sqlite_url(directory / "parley.db"), mcp_config=config, generate_titles=False
    )
    app = create_app(settings, agent=ToolCaller().agent())
    times: dict[str, list[float]] = {name: [] for name in _CALLS}
    started = time.perf_counter()
    with TestClient(app, base_url="http://localhost") as client:
        start_up = time.perf_counter() - started
        for name, prompt in _CALLS.items():
            conversation = new_conversation(client)
            for _ in range(runs):
                began = time.perf_counter()
                frames = send(client, conversation, prompt)
                times[name].append(time.perf_counter() - began)
                assert any(f.event == "tool_result" for f in frames), frames
    return start_up, times, len(starts_of(starts))


def _start_up(directory: Path) -> float:
    """Parley's start-up without MCP servers, for comparison."""
    settings = Settings(database_url=sqlite_url(directory / "plain.db"), generate_titles=False)
    app = create_app(settings, agent=ToolCaller().agent())
    started = time.perf_counter()
    with TestClient(app, base_url="http://localhost"):
        return time.perf_counter() - started


def _bare(directory: Path, runs: int) -> tuple[list[float], int]:
    """Run times of a bare agent with a stdio toolset it enters per run; starts of the server."""
    starts = directory / "bare-starts.txt"
    entry = stdio_command(starts)
    caller = ToolCaller()
    agent = caller.agent()

    async def measure() -> list[float]:
        found: list[float] = []
        for _ in range(runs):
            toolset: MCPToolset[Any] = MCPToolset(
                StdioTransport(entry["command"], entry["args"], keep_alive=False), id="calc"
            )
            began = time.perf_counter()
            prefixed = [toolset.prefixed("calc")]
            async with agent.run_stream_events(_CALLS["stdio"], toolsets=prefixed) as stream:
                async for _event in stream:
                    pass
            found.append(time.perf_counter() - began)
        return found

    return asyncio.run(measure()), len(starts_of(starts))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mcp", description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="runs per row (default 10)")
    args = parser.parse_args(argv)
    runs: int = max(args.runs, 2)
    with tempfile.TemporaryDirectory() as temp, http_server() as url:
        directory = Path(temp)
        plain = _start_up(directory)
        start_up, times, parley_starts = _parley(directory, url, runs)
        bare, bare_starts = _bare(directory, runs)
    rows: list[tuple[str, list[float], int | None]] = [
        ("Parley, stdio server", times["stdio"], parley_starts),
        ("Parley, HTTP server", times["http"], None),
        ("bare agent, stdio toolset entered per run", bare, bare_starts),
    ]
    header = ["runs with an MCP tool call (ms)", "first", f"run {runs}", "median 2..", "starts"]
    lines = table(
        header,
        [
            [
                name,
                _ms(found[0]),
                _ms(found[-1]),
                _ms(statistics.median(found[1:])),
                "-" if count is None else str(count),
            ]
            for name, found, count in rows
        ],
    )
    print(f"Python {sys.version.split()[0]}; {runs} runs per row.")
    print(
        f"Parley's start-up: {_ms(start_up)} ms with both servers (started side by side, once), "
        f"{_ms(plain)} ms without.\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
