"""The MCP servers of this process: started once, their tools offered to every run.

A toolset that is not entered before a run is entered by the run, and for a stdio server that
means a new process per reply. So each server is entered once, when Parley starts, and stays
entered until it stops: a run's own entering only counts up. Each server is held by a task of
its own (`_hold`), which enters it and later exits it: the MCP client's task groups must be left
by the task that entered them. Servers start side by side, each within `start_timeout`; one that
fails (a bad command, a process that exits, no answer) is listed as an error with the reason,
logged, and left out, while the others work.

What a conversation switched off is left out of its runs (`toolsets(off=…)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel
from pydantic_ai.tools import RunContext, ToolDefinition
from pydantic_ai.toolsets import AbstractToolset

from .config import Approval, ServerConfig, is_read_only, needs_approval, read_config

if TYPE_CHECKING:
    from pydantic_ai.mcp import MCPToolset

log = logging.getLogger(__name__)

Status = Literal["running", "disabled", "error"]

# Long enough for a server started through `npx`/`uvx` that fetches its package first.
START_TIMEOUT = 30.0
# How long shutdown waits for a server to close (its process to exit).
_STOP_TIMEOUT = 5.0
# How long listing a server's tools may take (only asked again when they changed).
_LIST_TIMEOUT = 5.0
# An error message shown to users is cut here: a stack of causes tells them nothing more.
_ERROR_CHARS = 300


class ToolView(BaseModel):
    """One tool of a server, as the model sees it."""

    name: str  # with the server's prefix: what the model calls
    description: str | None
    read_only: bool  # the server annotated it `readOnlyHint`
    needs_approval: bool  # under the server's policy, a call waits for the user


class ServerView(BaseModel):
    """One configured server, for anyone logged in: never its command, URL, environment or
    headers (the operator's, and they may hold secrets)."""

    name: str
    status: Status
    error: str | None
    approval: Approval
    tools: list[ToolView]


@dataclass
class _Server:
    config: ServerConfig
    status: Status
    error: str | None = None
    connection: MCPToolset[Any] | None = None
    # What a run gets: the connection behind the approval policy, its tools prefixed.
    toolset: AbstractToolset[Any] | None = None
    holder: asyncio.Task[None] | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)


class McpServers:
    """The configured servers: `start` at start-up, `stop` at shutdown, `toolsets` per run."""

    def __init__(
        self, configs: Sequence[ServerConfig] = (), *, start_timeout: float = START_TIMEOUT
    ) -> None:
        self.start_timeout = start_timeout
        self._servers = [
            _Server(c, "error" if c.error else "disabled" if c.disabled else "running", c.error)
            for c in configs
        ]

    @classmethod
    def from_file(cls, path: Path | None, **options: Any) -> McpServers:
        """The servers of the operator's config file (none without one). Raises
        McpConfigError if the file cannot be used."""
        return cls(read_config(path) if path is not None else (), **options)

    async def start(self) -> None:
        """Start every server that is neither disabled nor misconfigured, side by side."""
        starting = [s for s in self._servers if s.status == "running"]
        await asyncio.gather(*(self._start(s) for s in starting))

    async def stop(self) -> None:
        """Close every started server (a stdio server's process ends)."""
        holders = [s.holder for s in self._servers if s.holder is not None]
        for server in self._servers:
            server.release.set()
        if holders:
            _done, late = await asyncio.wait(holders, timeout=_STOP_TIMEOUT)
            for holder in late:
                holder.cancel()
            if late:
                await asyncio.wait(late, timeout=_STOP_TIMEOUT)
        for server in self._servers:
            server.holder = server.toolset = server.connection = None
            if server.status == "running":
                server.status, server.error = "error", "Stopped."

    def toolsets(self, off: Collection[str] = ()) -> list[AbstractToolset[Any]]:
        """The toolsets of the running servers, but those named in `off`."""
        return [
            s.toolset
            for s in self._servers
            if s.status == "running" and s.toolset is not None and s.config.name not in off
        ]

    async def describe(self) -> list[ServerView]:
        """Every configured server: its status, and a running one's tools (asked of the
        server only when it said they changed; otherwise as listed at start)."""
        return [await self._describe(s) for s in self._servers]

    async def _describe(self, server: _Server) -> ServerView:
        config, tools = server.config, []
        status, error = server.status, server.error
        if status == "running" and server.connection is not None:
            try:
                # Cached since start-up unless the server said its tools changed; a server
                # that then does not answer must not hold the page up.
                listed = await asyncio.wait_for(server.connection.list_tools(), _LIST_TIMEOUT)
            except TimeoutError:
                status, error = "error", "It did not list its tools in time."
            except Exception as exc:
                status, error = "error", _describe_error(exc, config)
            else:
                for tool in listed:
                    annotations = (
                        tool.annotations.model_dump(by_alias=True) if tool.annotations else None
                    )
                    definition = ToolDefinition(
                        name=tool.name,
                        description=tool.description,
                        metadata={"annotations": annotations},
                    )
                    tools.append(
                        ToolView(
                            name=f"{config.name}_{tool.name}",
                            description=tool.description,
                            read_only=is_read_only(definition.metadata),
                            needs_approval=needs_approval(config.approval, definition),
                        )
                    )
        return ServerView(
            name=config.name, status=status, error=error, approval=config.approval, tools=tools
        )

    async def _start(self, server: _Server) -> None:
        config = server.config
        server.connection = connection = _connect(config, self.start_timeout)
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        server.holder = asyncio.create_task(
            _hold(connection, ready, server.release), name=f"parley-mcp-{config.name}"
        )
        try:
            count = await asyncio.wait_for(asyncio.shield(ready), self.start_timeout)
        except Exception as exc:
            server.holder.cancel()
            with contextlib.suppress(BaseException):
                await server.holder
            server.holder = server.connection = None
            server.status = "error"
            if isinstance(exc, TimeoutError):
                server.error = f"It did not start within {self.start_timeout:g} s."
            else:
                server.error = _describe_error(exc, config)
            log.error("MCP server %s could not start: %s", config.name, server.error)
            return
        server.toolset = _for_runs(connection, config)
        log.info("MCP server %s started: %d tools", config.name, count)


async def _hold(
    connection: MCPToolset[Any], ready: asyncio.Future[int], release: asyncio.Event
) -> None:
    """Enter the server, say how many tools it has, and keep it entered until released."""
    try:
        async with connection:
            tools = await connection.list_tools()
            if not ready.done():
                ready.set_result(len(tools))
            await release.wait()
    except BaseException as exc:
        if not ready.done():
            ready.set_exception(exc if isinstance(exc, Exception) else ConnectionError("cancelled"))
        elif isinstance(exc, Exception):
            log.warning("MCP server %s closed with an error: %s", connection.id, exc)
        if not isinstance(exc, Exception):
            raise


def _connect(config: ServerConfig, timeout: float) -> MCPToolset[Any]:
    # Imported here: the MCP client is most of a second of start-up, for servers that most
    # deployments do not configure.
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai.mcp import MCPToolset

    if config.command is not None:
        # The process gets the MCP SDK's small default environment (PATH, HOME, …) and the
        # entry's `env`: never Parley's own (database URL, provider keys). keep_alive=False:
        # leaving the toolset ends the process, so shutdown leaves none behind.
        transport = StdioTransport(
            config.command, list(config.args), env=config.env, cwd=config.cwd, keep_alive=False
        )
        return MCPToolset(transport, id=config.name, init_timeout=timeout)
    assert config.url is not None
    return MCPToolset(config.url, id=config.name, headers=config.headers, init_timeout=timeout)


def _for_runs(connection: MCPToolset[Any], config: ServerConfig) -> AbstractToolset[Any]:
    policy = config.approval

    def asks(_ctx: RunContext[Any], tool: ToolDefinition, _args: dict[str, Any]) -> bool:
        return needs_approval(policy, tool)

    guarded = connection if policy == "never" else connection.approval_required(asks)
    return guarded.prefixed(config.name)


def _describe_error(exc: BaseException, config: ServerConfig) -> str:
    """One line for users: the innermost error of a task group, with the values the
    operator gave the server (tokens in its headers or environment) blanked out."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split()) or type(exc).__name__
    for secret in config.secrets():
        text = text.replace(secret, "…")
    return text[:_ERROR_CHARS]
