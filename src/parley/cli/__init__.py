"""The `parley` command. Each command group is a module with `add_commands` (its arguments) and
a handler; nothing heavy (Pydantic AI, the web stack, llama.cpp) is imported before a command
needs it, so `parley --version` and `parley --help` answer at once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..settings import Settings
from ..version import __version__
from . import archive, db, feedback, serve, usage, users


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description="A chat app for Pydantic AI.")
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve.add_commands(commands)
    users.add_commands(commands)
    db.add_commands(commands)
    usage.add_commands(commands)
    archive.add_commands(commands)
    feedback.add_commands(commands)
    args = parser.parse_args(argv)
    settings = Settings(
        **{k: v for k, v in vars(args).items() if k in Settings.model_fields and v is not None}
    )
    code: int = args.handler(settings, args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
