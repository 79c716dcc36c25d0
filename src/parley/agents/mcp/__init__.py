"""MCP servers as tools: the operator's config file (`config`), the servers started once and
offered to every run (`servers`)."""

from .config import Approval, McpConfigError, ServerConfig, needs_approval, read_config
from .servers import McpServers, ServerView, ToolView

__all__ = [
    "Approval",
    "McpConfigError",
    "McpServers",
    "ServerConfig",
    "ServerView",
    "ToolView",
    "needs_approval",
    "read_config",
]
