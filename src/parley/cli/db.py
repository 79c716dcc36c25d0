"""`parley db copy`: everything from one database into another, empty one."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..settings import Settings
from .urls import redacted


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = commands.add_parser("db", help="database tools")
    db_commands = db.add_subparsers(dest="action", required=True)
    copy = db_commands.add_parser(
        "copy", help="copy everything from one database into another, empty one"
    )
    copy.add_argument("source", help="SQLAlchemy async URL to copy from")
    copy.add_argument("target", help="SQLAlchemy async URL to copy into (must be empty)")
    copy.set_defaults(handler=run_copy)


def run_copy(_settings: Settings, args: argparse.Namespace) -> int:
    from ..db.copy import TargetNotEmpty, copy_database

    try:
        counts = asyncio.run(copy_database(args.source, args.target))
    except TargetNotEmpty as exc:
        print(f"parley: the target database is not empty (table {exc})", file=sys.stderr)
        return 1
    for table, count in counts.items():
        print(f"{table:14} {count:>8} rows")
    print(f"parley: copied {redacted(args.source)} into {redacted(args.target)}", file=sys.stderr)
    return 0
