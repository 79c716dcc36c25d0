"""`parley serve` and `parley migrate`."""

from __future__ import annotations

import argparse
import asyncio
import copy
import importlib.util
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

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
    serve.add_argument(
        "--agent",
        help="your agent: package.module:attribute, path/to/bot.py:attribute, or a spec file "
        "(.yaml, .json)",
    )
    serve.add_argument("--instructions", help="instructions (system prompt) for every run")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--database-url", help="SQLAlchemy async database URL")
    serve.add_argument("--mcp-config", help="MCP servers to start (mcpServers JSON file)")
    serve.add_argument(
        "--reload",
        action="store_true",
        help="development: restart when the agent's source (or the current directory's .py, "
        ".yaml, .json files) changes; conversations are kept",
    )
    serve.set_defaults(handler=run_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("--database-url", help="SQLAlchemy async database URL")
    migrate.set_defaults(handler=run_migrate)


# `--reload`: the settings given on the command line, for the server process that uvicorn's
# reloader starts (and starts again on each change), which builds the app from them.
_RELOAD_SETTINGS = "PARLEY_RELOAD_SETTINGS"
_WATCHED = ["*.py", "*.yaml", "*.yml", "*.json"]
_UVICORN: dict[str, Any] = {
    "log_level": "info",
    # uvicorn waits for open connections before the app's shutdown runs; a browser watching
    # a long reply would hold the process up. After a short grace, the runs are stopped and
    # their partial replies saved as interrupted.
    "timeout_graceful_shutdown": 3,
    # Forwarded headers are read by Parley itself, only from PARLEY_TRUSTED_PROXIES.
    "proxy_headers": False,
}


def run_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    if getattr(args, "reload", False):
        return _serve_reloading(settings, args)

    from ..agents.loading import AgentConfigError
    from ..agents.mcp import McpConfigError
    from ..app import create_app
    from ..version import __version__

    try:
        app = create_app(settings)
    except (AgentConfigError, McpConfigError) as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    if settings.log_format == "text":  # in JSON, uvicorn's own line says where it listens
        print(f"Parley {__version__} on http://{settings.host}:{settings.port}", file=sys.stderr)
    uvicorn.run(
        app, host=settings.host, port=settings.port, **_UVICORN, **_logging(settings.log_format)
    )
    return 0


def _serve_reloading(settings: Settings, args: argparse.Namespace) -> int:
    """uvicorn's reloader: a server process built by `reloaded_app`, restarted when a watched
    file changes. A restart stops the replies in flight the way a shutdown does (saved as
    interrupted) and the database keeps every conversation; a broken agent file only logs its
    error until the next change fixes it."""
    import uvicorn

    given = {k: v for k, v in vars(args).items() if k in Settings.model_fields and v is not None}
    os.environ[_RELOAD_SETTINGS] = json.dumps(given)
    directories = _watched_directories(settings.agent)
    print(
        f"Parley on http://{settings.host}:{settings.port}, restarting on changes in "
        + ", ".join(str(d) for d in directories),
        file=sys.stderr,
    )
    uvicorn.run(
        "parley.cli.serve:reloaded_app",
        factory=True,
        reload=True,
        reload_dirs=[str(d) for d in directories],
        reload_includes=_WATCHED,
        host=settings.host,
        port=settings.port,
        **_UVICORN,
        **_logging(settings.log_format),
    )
    return 0


def _logging(log_format: str) -> dict[str, Any]:
    """uvicorn's logging config: its own for text; for json, every line of uvicorn's, Parley's
    (INFO and up) and any library's (WARNING and up) as one JSON object (observe/logs.py)."""
    if log_format != "json":
        return {}
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for name in config["formatters"]:
        config["formatters"][name] = {"()": "parley.observe.logs.JsonFormatter"}
    # Libraries log through the root logger: without a handler there, Python's last resort
    # would print their warnings as plain text in the middle of the JSON.
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    config["loggers"]["parley"] = {"level": "INFO"}
    config["loggers"]["py.warnings"] = {"level": "WARNING"}
    logging.captureWarnings(True)
    return {"log_config": config}


def reloaded_app() -> FastAPI:
    """The app of a `--reload` server process, from the command line's settings."""
    from ..agents.loading import AgentConfigError
    from ..app import create_app

    given: dict[str, Any] = json.loads(os.environ.get(_RELOAD_SETTINGS, "{}"))
    try:
        return create_app(Settings(**given))
    except AgentConfigError as exc:
        # One line, as without --reload; the reloader tries again after the next change.
        print(f"parley: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _watched_directories(agent: str | None) -> list[Path]:
    """The current directory, and the directory of the agent's source when it is elsewhere
    (a file path, a spec file, or a module found on the import path)."""
    here = Path.cwd().resolve()
    found = [here]
    source: Path | None = None
    if agent:
        target = agent.rpartition(":")[0] or agent
        if target.endswith((".py", ".yaml", ".yml", ".json")) or "/" in target:
            source = (here / target).resolve()
        else:
            sys.path.insert(0, str(here))
            try:
                spec = importlib.util.find_spec(target)
            except (ImportError, ValueError):
                spec = None
            finally:
                sys.path.remove(str(here))
            if spec is not None and spec.origin:
                source = Path(spec.origin).resolve()
    if source is not None and not source.parent.is_relative_to(here):
        found.append(source.parent)
    return found


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
