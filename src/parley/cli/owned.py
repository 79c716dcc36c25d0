"""What `parley export` and `parley feedback export` share: whose data (`--user`, or the local
user) and writing it, a piece at a time, to standard output or a file."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# The pieces of a document of one owner's data, from the database.
Pieces = Callable[["AsyncEngine", str], AsyncIterator[str]]


def write_owned(settings: Settings, user: str | None, output: str | None, pieces: Pieces) -> int:
    """Write the document `pieces` makes of `user`'s data to `output` (default standard
    output); the command's exit code."""
    if not output:
        return asyncio.run(_write(settings, user, pieces, sys.stdout))
    with Path(output).open("w", encoding="utf-8") as out:
        return asyncio.run(_write(settings, user, pieces, out))


async def owner_of(engine: AsyncEngine, settings: Settings, user: str | None) -> str | None:
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


async def _write(settings: Settings, user: str | None, pieces: Pieces, out: TextIO) -> int:
    from ..db.engine import create_engine
    from ..db.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        owner = await owner_of(engine, settings, user)
        if owner is None:
            return 1
        async for piece in pieces(engine, owner):
            out.write(piece)
    finally:
        await engine.dispose()
    return 0
