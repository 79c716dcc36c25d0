"""`parley usage`: what replies used and cost, for the operator: every user's, or one's."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date

from ..settings import Settings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    usage = commands.add_parser("usage", help="tokens and cost of the replies, per user")
    usage.add_argument("--database-url", help="SQLAlchemy async database URL")
    usage.add_argument("--user", help="one user (local mode: local); default every user")
    usage.add_argument("--from", dest="start", type=date.fromisoformat, help="first UTC day")
    usage.add_argument("--to", dest="end", type=date.fromisoformat, help="last UTC day")
    usage.add_argument(
        "--group-by", choices=("user", "model", "day"), default="user", help="default user"
    )
    usage.set_defaults(handler=run_usage)


def run_usage(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_run(settings, args))


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from ..chat.usage import totals
    from ..db.engine import create_engine
    from ..db.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        found = await totals(
            engine, owner=args.user, start=args.start, end=args.end, group_by=args.group_by
        )
    finally:
        await engine.dispose()
    header = (args.group_by, "replies", "input", "output", "cost USD", "unpriced")
    rows = [
        (
            t.key or "",
            f"{t.replies:,}",
            f"{t.input_tokens:,}",
            f"{t.output_tokens:,}",
            f"{t.cost:.6f}" if t.cost is not None else "—",
            f"{t.unpriced:,}",
        )
        for t in found
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells).rstrip(), file=sys.stdout)
    return 0
