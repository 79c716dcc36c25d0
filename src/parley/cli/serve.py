"""`parley serve` and `parley migrate`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..settings import Settings
from .urls import redacted


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run Parley")
    serve.add_argument(
        "--model",
        action="append",
        dest="models",
        help="Pydantic AI model string, e.g. openai:gpt-4o; more than once: the models people "
        "may choose from, the first the default",
    )
    serve.add_argument("--agent", help="your agent as package.module:attribute")
    serve.add_argument("--instructions", help="instructions (system prompt) for every run")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--database-url", help="SQLAlchemy async database URL")
    serve.add_argument("--mcp-config", help="MCP servers to start (mcpServers JSON file)")
    serve.set_defaults(handler=run_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("--database-url", help="SQLAlchemy async database URL")
    migrate.set_defaults(handler=run_migrate)


def run_serve(settings: Settings, _args: argparse.Namespace) -> int:
    import uvicorn

    from .. import __version__
    from ..agents.loading import AgentConfigError
    from ..agents.mcp import McpConfigError
    from ..app import create_app

    try:
        app = create_app(settings)
    except (AgentConfigError, McpConfigError) as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    print(f"Parley {__version__} on http://{settings.host}:{settings.port}", file=sys.stderr)
    # uvicorn waits for open connections before the app's shutdown runs; a browser watching a
    # long reply would hold the process up. After a short grace, the runs are stopped and their
    # partial replies saved as interrupted.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=3,
        # Forwarded headers are read by Parley itself, only from PARLEY_TRUSTED_PROXIES.
        proxy_headers=False,
    )
    return 0


def run_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from ..db.engine import create_engine
    from ..db.migrate import upgrade

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print(f"parley: database at head ({redacted(settings.database_url)})", file=sys.stderr)
    return 0
