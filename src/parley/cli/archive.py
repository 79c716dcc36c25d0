"""`parley export` and `parley import`: a user's conversations out as Parley JSON, and an
export (Parley's, ChatGPT's or Claude's) in, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from ..settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export", help="write a user's conversations (every branch, file and usage) as JSON"
    )
    export.add_argument("--database-url", help="SQLAlchemy async database URL")
    export.add_argument("--user", help="whose (accounts mode); default the local user")
    export.add_argument("--output", "-o", help="file to write (default standard output)")
    export.set_defaults(handler=run_export)

    imports = commands.add_parser(
        "import", help="import Parley JSON, or ChatGPT's or Claude's conversations.json"
    )
    imports.add_argument("file", help="the export file")
    imports.add_argument("--database-url", help="SQLAlchemy async database URL")
    imports.add_argument("--user", help="into whose account (accounts mode); default local")
    imports.set_defaults(handler=run_import)


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    if not args.output:
        return asyncio.run(_export(settings, args.user, sys.stdout))
    with Path(args.output).open("w", encoding="utf-8") as out:
        return asyncio.run(_export(settings, args.user, out))


def run_import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        with Path(args.file).open("rb") as f:
            return asyncio.run(_import(settings, args, f))
    except OSError as exc:
        print(f"parley: {args.file}: {exc.strerror}", file=sys.stderr)
        return 1


async def _owner(engine: AsyncEngine, settings: Settings, user: str | None) -> str | None:
    """The owner id of `--user`, or the local user's; None (after saying why) if there is
    none."""
    import sqlalchemy as sa

    from ..db.tables import users

    if user is None:
        if settings.auth == "accounts":
            print("parley: name the user with --user (accounts mode)", file=sys.stderr)
            return None
        return "local"
    async with engine.connect() as conn:
        found = await conn.scalar(sa.select(users.c.id).where(users.c.name == user))
    if found is None:
        print(f"parley: no user {user!r}", file=sys.stderr)
        return None
    return str(found)


async def _export(settings: Settings, user: str | None, out: TextIO) -> int:
    from ..chat.archive.export import archive
    from ..db.engine import create_engine
    from ..db.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        owner = await _owner(engine, settings, user)
        if owner is None:
            return 1
        async for piece in archive(engine, owner):
            out.write(piece)
        out.write("\n")
    finally:
        await engine.dispose()
    return 0


async def _import(settings: Settings, args: argparse.Namespace, f: BinaryIO) -> int:
    from ..chat.archive.importer import FileLimits
    from ..chat.archive.reader import Unreadable, import_file
    from ..db.engine import create_engine
    from ..db.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        owner = await _owner(engine, settings, args.user)
        if owner is None:
            return 1
        limits = FileLimits(settings.max_file_bytes, settings.max_storage_per_user)
        try:
            outcome = await import_file(engine, owner, f, limits=limits)
        except Unreadable as exc:
            print(f"parley: {args.file}: {exc.detail}", file=sys.stderr)
            return 1
    finally:
        await engine.dispose()
    print(
        f"{outcome.format}: imported {outcome.imported}, skipped {outcome.skipped} "
        f"(imported before), refused {outcome.refused}"
    )
    for refusal in outcome.refusals:
        print(f"refused #{refusal['index']} {json.dumps(refusal['title'])}: {refusal['detail']}")
    return 0 if outcome.refused == 0 else 3
