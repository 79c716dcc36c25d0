"""Running the `parley` command in the test's own process: no interpreter start-up per call."""

from __future__ import annotations

import contextlib
import io
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from parley.cli import main


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, stdin: str = "") -> Result:
    """`parley ARGS` with `stdin` as its standard input; what it printed and its exit code.

    Run in a thread of its own: the command calls asyncio.run, which refuses to start where an
    event loop is already running (Playwright's sync API keeps one on the test's thread).
    """

    def call() -> Result:
        out, err = io.StringIO(), io.StringIO()
        saved_stdin = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exit_:
                    code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            sys.stdin = saved_stdin
        return Result(code, out.getvalue(), err.getvalue())

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def migrate(database_url: str) -> None:
    """`parley migrate`: the database brought up to date (created, for a SQLite file)."""
    migrated = run_cli("migrate", "--database-url", database_url)
    assert migrated.returncode == 0, migrated.stderr


def add_user(database_url: str, name: str, password: str) -> None:
    """`parley users add NAME` on the database (which the command migrates first)."""
    added = run_cli(
        "users", "--database-url", database_url, "add", name, "--password-stdin",
        stdin=password + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


def create_token(database_url: str, user: str, name: str = "tests") -> str:
    """`parley tokens create USER NAME`: the new token's secret."""
    created = run_cli("tokens", "--database-url", database_url, "create", user, name)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]
