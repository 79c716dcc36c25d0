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
