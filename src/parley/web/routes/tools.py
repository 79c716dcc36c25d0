"""/api/tools: the operator's MCP servers, their status and their tools.

Read-only: the servers come from the operator's config file, so no request can add one, start
a command or change a policy. A conversation switches a server off through its own PATCH
(`tools_off`). Nothing listed is a secret: no command, URL, environment or header.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ...agents.mcp import ServerView
from ..deps import ToolsDep

router = APIRouter(prefix="/tools", tags=["tools"])


class ToolServers(BaseModel):
    servers: list[ServerView]


@router.get("")
async def list_tools(tools: ToolsDep) -> ToolServers:
    """Every configured MCP server: `running` (its tools offered to replies), `disabled` (by
    the operator) or `error` (it could not start: `error` says why), with its approval policy
    and a running server's tools, named as the model calls them."""
    return ToolServers(servers=await tools.describe())
