"""Real `parley` processes for end-to-end tests and benchmarks, each with a clean HOME and
environment: `parley serve` servers, and (benchmarks only) other `parley` commands."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .databases import sqlite_url

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # a loaded CI machine starting several at once
HTTP_TIMEOUT = httpx.Timeout(10.0)


def _environment(home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment, as a fresh install would see it (no PARLEY_* from the caller),
    with `env` on top."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        # The repo root, so `--agent tests.support.agents_for_cli:...` is importable.
        # PARLEY_SOURCE (benchmarks only): another checkout's src/ to run instead.
        "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PARLEY_SOURCE"), str(ROOT)])),
        "PYTHONUNBUFFERED": "1",
        # Cheap password hashing (production cost tests nothing more).
        "PARLEY_PASSWORD_TIME_COST": "1",
        "PARLEY_PASSWORD_MEMORY_KIB": "32",
        **(env or {}),
    }


def settings_env(**settings: object) -> dict[str, str]:
    """The environment that gives a `parley` process these settings (Settings' field names)."""
    return {f"PARLEY_{name.upper()}": str(value) for name, value in settings.items()}


def run_parley(
    home: Path, *args: str, stdin: str = "", env: Mapping[str, str] | None = None
) -> str:
    """`parley ARGS` in a process of its own; what it printed. For the benchmarks, which may
    run another checkout (PARLEY_SOURCE): tests call the command in process
    (tests.support.cli.run_cli), which saves the interpreter's start-up."""
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "parley", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(home, env),
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"parley {args[0]} exited with {done.returncode}:\n{done.stderr}")
    return done.stdout


def http_client(url: str) -> httpx.Client:
    """A client of the Parley at `url` (a base URL)."""
    # trust_env=False: a developer's proxy settings must not route 127.0.0.1 elsewhere.
    return httpx.Client(base_url=url, timeout=HTTP_TIMEOUT, trust_env=False)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> httpx.Client:
        return http_client(self.url)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cpu(self) -> float | None:
        """Seconds of CPU (user + system) the process has used, where /proc tells."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of proc(5); fields[0] is field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"parley serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                # /api/auth/me answers without a login in either mode.
                me = httpx.get(f"{self.url}/api/auth/me", timeout=1.0, trust_env=False)
                if me.is_success:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"parley serve did not answer within {timeout} s:\n{self.output()}")

    def terminate(self) -> None:
        """Ask the process to shut down (SIGTERM), without waiting for it."""
        if self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        """Shut the process down and wait for it; killed if it takes more than 10 s."""
        self.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@contextmanager
def servers(tmp_path: Path, database_url: str | None = None) -> Iterator[Callable[..., Server]]:
    """Start `parley serve` with extra CLI args and environment; every server is stopped after.

    All of them use `database_url` (default: a SQLite file in `tmp_path`). `start(...,
    wait=False)` returns before the server answers: call its `wait_ready()` (several may start
    at once that way, on a database they do not have to migrate).
    """
    started: list[Server] = []
    database = database_url or sqlite_url(tmp_path / "e2e.db")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        wait: bool = True,
        cwd: Path | None = None,
        script: bool = False,
    ) -> Server:
        port = free_port()
        # `script`: the `parley` command itself, as a developer runs it (`python -m` would put
        # the current directory on the import path for it).
        program = [str(Path(sys.executable).with_name("parley"))] if script else [
            sys.executable, "-m", "parley"
        ]  # fmt: skip
        command = [*program, "serve", "--port", str(port), "--database-url", database, *args]
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=cwd or ROOT,
                env=_environment(home, env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Server(f"http://127.0.0.1:{port}", process, log)
        started.append(server)
        if wait:
            server.wait_ready()
        return server

    try:
        yield start
    finally:
        # All asked at once, so that they shut down side by side.
        for server in started:
            server.terminate()
        for server in started:
            server.stop()


def side_by_side(
    start: Callable[..., Server],
    count: int,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> list[Server]:
    """`count` servers from `start` (what `servers` yields) with the same args, started at once,
    then waited for. Their database must be migrated already: processes that migrate one
    database at once race on it."""
    started = [start(*args, env=env, wait=False) for _ in range(count)]
    for server in started:
        server.wait_ready(timeout)
    return started


def free_port() -> int:
    """A port on the loopback interface that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
