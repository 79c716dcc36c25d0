"""The operator's MCP config file, and the approval policy of each server.

The file is the `mcpServers` JSON people already write for other clients: per server either
`command` (with `args`, `env`, `cwd`: a process Parley starts, speaking MCP on stdio) or `url`
(with `headers`: streamable HTTP, or SSE for a URL ending in `/sse`). `${VAR}` and
`${VAR:-default}` are expanded from Parley's environment, as Pydantic AI's `load_mcp_toolsets`
does. Parley adds two keys of its own, which that loader would drop:

- `disabled: true`: the server is listed, never started;
- `approval`: `"always"`, `"never"` or `"unless-read-only"` (the default): whether a call of one
  of its tools waits for the user's approval. Under the default, a tool the server annotates
  `readOnlyHint` runs at once and any other asks; the hint is the server's word, so a server
  the operator does not trust should be `"always"`.

A file that cannot be read as such a JSON object stops Parley from starting (the operator's
mistake, said once, at start). A mistake in one server's entry only makes that server an
error, listed with the reason, while the others start.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_ai.tools import ToolDefinition

Approval = Literal["always", "never", "unless-read-only"]
DEFAULT_APPROVAL: Approval = "unless-read-only"

# A server's name prefixes its tools' names (`name_tool`), which model APIs restrict to these
# characters; 40 leaves room for the tool's own name within their 64.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
# As Pydantic AI's loader: ${VAR} or ${VAR:-default}.
_VARIABLE = re.compile(r"\$\{([^}:]+)(:-([^}]*))?\}")


class McpConfigError(Exception):
    """The MCP config file cannot be used at all; the message is one line for the operator."""


class _Entry(BaseModel):
    """One server's entry. Keys of other clients (`type`, `timeout`, …) are ignored."""

    model_config = ConfigDict(extra="ignore")

    command: str | None = None
    args: list[str] = []
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None
    disabled: bool = False
    approval: Approval = DEFAULT_APPROVAL

    @model_validator(mode="after")
    def _one_transport(self) -> _Entry:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either `command` or `url`")
        return self


@dataclass(frozen=True)
class ServerConfig:
    """One configured server: what to start, or why it cannot be (`error`)."""

    name: str
    approval: Approval = DEFAULT_APPROVAL
    disabled: bool = False
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None
    error: str | None = None

    def secrets(self) -> list[str]:
        """Values that must not reach a user, e.g. inside an error message: the environment
        and headers given to the server (tokens, keys)."""
        values = [*(self.env or {}).values(), *(self.headers or {}).values()]
        # Short values ("1", "true") would blank out ordinary words of a message.
        return [v for v in values if len(v) >= 4]


def read_config(path: Path) -> list[ServerConfig]:
    """The servers of the config file at `path`, in the file's order."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise McpConfigError(f"cannot read the MCP config {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise McpConfigError(f"the MCP config {path} is not valid JSON: {exc}") from exc
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise McpConfigError(f"the MCP config {path} has no `mcpServers` object")
    return [_server(str(name), entry) for name, entry in servers.items()]


def _server(name: str, raw: object) -> ServerConfig:
    if not _NAME.fullmatch(name):
        return ServerConfig(
            name[:40], error="Its name must be up to 40 letters, digits, '_' or '-'."
        )
    if not isinstance(raw, dict):
        return ServerConfig(name, error="Its entry is not a JSON object.")
    # A disabled server is never started: its `${VAR}`s need not be defined.
    if raw.get("disabled") is True:
        approval = raw.get("approval", DEFAULT_APPROVAL)
        known = (
            approval if approval in ("always", "never", "unless-read-only") else DEFAULT_APPROVAL
        )
        return ServerConfig(name, approval=known, disabled=True)
    try:
        entry = _Entry.model_validate(_expand(raw))
    except (ValidationError, ValueError) as exc:
        return ServerConfig(name, error=f"Its entry is not valid: {_reason(exc)}")
    return ServerConfig(
        name,
        approval=entry.approval,
        disabled=entry.disabled,
        command=entry.command,
        args=entry.args,
        env=entry.env,
        cwd=entry.cwd,
        url=entry.url,
        headers=entry.headers,
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    return str(exc)


def _expand(value: Any) -> Any:
    """`${VAR}` and `${VAR:-default}` in every string, from Parley's environment."""
    if isinstance(value, str):

        def variable(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(3)
            if name in os.environ:
                return os.environ[name]
            if match.group(2) is not None:
                return default or ""
            raise ValueError(f"the environment variable {name} is not defined")

        return _VARIABLE.sub(variable, value)
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def is_read_only(metadata: Mapping[str, Any] | None) -> bool:
    """Whether the server annotated the tool `readOnlyHint` (MCPToolset puts a tool's MCP
    annotations, by their wire names, in its definition's `metadata["annotations"]`)."""
    annotations = (metadata or {}).get("annotations") or {}
    return annotations.get("readOnlyHint") is True


def needs_approval(policy: Approval, tool: ToolDefinition) -> bool:
    """Whether a call of `tool` waits for the user under the server's policy."""
    if policy == "always":
        return True
    if policy == "never":
        return False
    return not is_read_only(tool.metadata)
