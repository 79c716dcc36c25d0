"""`parley export` and `parley import`: a user's conversations out as Parley JSON, and an
export (Parley's, ChatGPT's or Claude's) in, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..settings import Settings
from .owned import owner_of, write_owned

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
    return write_owned(settings, args.user, args.output, _archive)


def run_import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        with Path(args.file).open("rb") as f:
            return asyncio.run(_import(settings, args, f))
    except OSError as exc:
        print(f"parley: {args.file}: {exc.strerror}", file=sys.stderr)
        return 1


async def _archive(engine: AsyncEngine, owner: str) -> AsyncIterator[str]:
    from ..chat.archive.export import archive

    async for piece in archive(engine, owner):
        yield piece
    yield "\n"


async def _import(settings: Settings, args: argparse.Namespace, f: BinaryIO) -> int:
    from ..chat.archive.importer import FileLimits
    from ..chat.archive.reader import Unreadable, import_file
    from ..db.engine import create_engine
    from ..db.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        owner = await owner_of(engine, settings, args.user)
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
