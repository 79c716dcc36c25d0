"""`parley feedback export`: a user's rated replies as a pydantic-evals dataset file
(chat/dataset.py), as `GET /api/feedback` gives it."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..settings import Settings
from .owned import write_owned

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    feedback = commands.add_parser("feedback", help="replies users rated")
    actions = feedback.add_subparsers(dest="action", required=True)
    export = actions.add_parser(
        "export",
        help="write a user's rated replies as a pydantic-evals dataset (Dataset.from_file)",
    )
    export.add_argument("--database-url", help="SQLAlchemy async database URL")
    export.add_argument("--user", help="whose (accounts mode); default the local user")
    export.add_argument("--output", "-o", help="file to write (default standard output)")
    export.add_argument(
        "--format",
        choices=["json", "yaml"],
        help="default: from the output file's extension (.yaml, .yml), else json",
    )
    export.set_defaults(handler=run_export)


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    format = _format(args.format, args.output)

    def pieces(engine: AsyncEngine, owner: str) -> AsyncIterator[str]:
        from ..chat.dataset import dataset
        from ..chat.feedback import Feedback

        return dataset(Feedback(engine), owner, format)

    return write_owned(settings, args.user, args.output, pieces)


def _format(chosen: str | None, output: str | None) -> Literal["json", "yaml"]:
    # pydantic-evals' Dataset.from_file reads the format from the extension too.
    suffix = Path(output).suffix.lower() if output else ""
    if chosen == "yaml" or (chosen is None and suffix in (".yaml", ".yml")):
        return "yaml"
    return "json"
