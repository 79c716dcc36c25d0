"""The `parley` command: serve, migrate, --version."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .agents import AgentConfigError
from .settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description="A chat app for Pydantic AI.")
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run Parley")
    serve.add_argument("--model", help="Pydantic AI model string, e.g. openai:gpt-4o")
    serve.add_argument("--agent", help="your agent as package.module:attribute")
    serve.add_argument("--instructions", help="instructions (system prompt) for every run")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--database-url", help="SQLAlchemy async database URL")

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("--database-url", help="SQLAlchemy async database URL")

    users = commands.add_parser("users", help="manage the users of accounts mode")
    users.add_argument("--database-url", help="SQLAlchemy async database URL")
    user_commands = users.add_subparsers(dest="action", required=True)
    for action, text in (("add", "add a user"), ("set-password", "set a user's password")):
        sub = user_commands.add_parser(action, help=text)
        sub.add_argument("name")
        sub.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
    user_commands.add_parser("list", help="list the users")
    user_commands.add_parser("remove", help="remove a user and everything of theirs").add_argument(
        "name"
    )

    tokens = commands.add_parser("tokens", help="manage a user's API tokens")
    tokens.add_argument("--database-url", help="SQLAlchemy async database URL")
    token_commands = tokens.add_subparsers(dest="action", required=True)
    create = token_commands.add_parser("create", help="create a token; prints it once")
    create.add_argument("user")
    create.add_argument("name")
    token_commands.add_parser("list", help="list a user's tokens").add_argument("user")
    revoke = token_commands.add_parser("revoke", help="revoke a token")
    revoke.add_argument("user")
    revoke.add_argument("token_id")

    db = commands.add_parser("db", help="database tools")
    db_commands = db.add_subparsers(dest="action", required=True)
    copy = db_commands.add_parser(
        "copy", help="copy everything from one database into another, empty one"
    )
    copy.add_argument("source", help="SQLAlchemy async URL to copy from")
    copy.add_argument("target", help="SQLAlchemy async URL to copy into (must be empty)")

    args = parser.parse_args(argv)
    if args.command == "db":
        return _copy(args.source, args.target)
    settings = Settings(
        **{k: v for k, v in vars(args).items() if k in Settings.model_fields and v is not None}
    )
    if args.command == "migrate":
        return _migrate(settings)
    if args.command in ("users", "tokens"):
        from .admin import run_admin

        return run_admin(settings, args)
    return _serve(settings)


def _serve(settings: Settings) -> int:
    import uvicorn

    from .app import create_app

    try:
        app = create_app(settings)
    except AgentConfigError as exc:
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


def _migrate(settings: Settings) -> int:
    from .db.engine import create_engine
    from .db.migrate import upgrade

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print(f"parley: database at head ({_redacted(settings.database_url)})", file=sys.stderr)
    return 0


def _copy(source: str, target: str) -> int:
    from .copy import TargetNotEmpty, copy_database

    try:
        counts = asyncio.run(copy_database(source, target))
    except TargetNotEmpty as exc:
        print(f"parley: the target database is not empty (table {exc})", file=sys.stderr)
        return 1
    for table, count in counts.items():
        print(f"{table:14} {count:>8} rows")
    print(f"parley: copied {_redacted(source)} into {_redacted(target)}", file=sys.stderr)
    return 0


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed: Any = make_url(url)
    return str(parsed.render_as_string(hide_password=True))
