"""Real `parley serve` processes for end-to-end tests, each with a clean HOME and environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .databases import sqlite_url

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
HTTP_TIMEOUT = httpx.Timeout(10.0)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> httpx.Client:
        # trust_env=False: a developer's proxy settings must not route 127.0.0.1 elsewhere.
        return httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT, trust_env=False)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
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
        pytest.fail(f"parley serve did not answer within {START_TIMEOUT} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@contextmanager
def servers(tmp_path: Path, database_url: str | None = None) -> Iterator[Callable[..., Server]]:
    """Start `parley serve` with extra CLI args and environment; every server is stopped after.

    All of them use `database_url` (default: a SQLite file in `tmp_path`).
    """
    started: list[Server] = []
    database = database_url or sqlite_url(tmp_path / "e2e.db")

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        port = _free_port()
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            # The repo root, so `--agent tests.support.agents_for_cli:...` is importable.
            # PARLEY_SOURCE (benchmarks only): another checkout's src/ to run instead.
            "PYTHONPATH": os.pathsep.join(
                filter(None, [os.environ.get("PARLEY_SOURCE"), str(ROOT)])
            ),
            "PYTHONUNBUFFERED": "1",
            # Cheap password hashing (production cost tests nothing more).
            "PARLEY_PASSWORD_TIME_COST": "1",
            "PARLEY_PASSWORD_MEMORY_KIB": "32",
            **(env or {}),
        }
        command = [
            sys.executable,
            "-m",
            "parley",
            "serve",
            "--port",
            str(port),
            "--database-url",
            database,
            *args,
        ]
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT
            )
        server = Server(f"http://127.0.0.1:{port}", process, log)
        started.append(server)
        server.wait_ready()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
