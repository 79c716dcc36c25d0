"""MCP servers for tests and benchmarks, written with the `mcp` SDK (`MCPServer`).

- The stdio server is this file run as a script (`stdio_command`): Parley starts it from a
  config file, in a process of its own, with the MCP SDK's default environment only (no
  PYTHONPATH), so this file imports nothing of Parley's or of the tests. Each start appends
  its pid to a file: how many times Parley started it.
- The streamable-HTTP server runs in a thread of the test on 127.0.0.1 (`http_server`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

READ_ONLY = ToolAnnotations(read_only_hint=True)


def stdio_server(starts: Path) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("calc", log_level="WARNING")

    @server.tool(annotations=READ_ONLY)
    def add(a: int, b: int) -> str:
        """Add two whole numbers."""
        return f"{a} + {b} = {a + b}"

    @server.tool(annotations=READ_ONLY)
    def pid() -> str:
        """The server's process id."""
        return str(os.getpid())

    @server.tool()
    def remember(text: str) -> str:
        """Write a note down (a side effect: not read-only)."""
        with (starts.parent / "notes.txt").open("a", encoding="utf-8") as notes:
            notes.write(text + "\n")
        return "noted"

    return server


def http_mcp_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("weather", log_level="WARNING")

    @server.tool(annotations=READ_ONLY)
    def forecast(city: str) -> str:
        """Tomorrow's weather in a city."""
        return f"Sunny in {city}"

    return server


def stdio_command(starts: Path) -> dict[str, Any]:
    """The config entry that starts the stdio server, counting its starts in `starts`."""
    return {"command": sys.executable, "args": [str(Path(__file__).resolve()), str(starts)]}


def starts_of(starts: Path) -> list[str]:
    """The pids the stdio server was started with, one per start."""
    return starts.read_text().split() if starts.exists() else []


@contextmanager
def http_server() -> Iterator[str]:
    """The streamable-HTTP server on a free loopback port until the block ends; its URL."""
    from .browser import in_thread
    from .processes import free_port

    port = free_port()
    app = http_mcp_server().streamable_http_app(host="127.0.0.1")
    with in_thread(app, port, "the MCP server"):
        yield f"http://127.0.0.1:{port}/mcp"


if __name__ == "__main__":
    counter = Path(sys.argv[1])
    with counter.open("a", encoding="utf-8") as file:
        file.write(f"{os.getpid()}\n")
    stdio_server(counter).run("stdio")
