"""Failed-login limits under real concurrency (one server, and two `parley serve` processes on
one PostgreSQL), what a successful login does to them, password checks off the event loop, and the
client address a trusted proxy forwards."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from parley.accounts.passwords import Passwords
from parley.accounts.store import Accounts
from parley.web.security import client_address

from ..support.browser import serve as serve_in_thread
from ..support.cli import add_user
from ..support.models import Echo
from ..support.processes import Server, http_client, settings_env, side_by_side

PASSWORD = "correct horse battery"
WRONG = "not the password"


@dataclass
class Answer:
    status: int
    detail: Any
    retry_after: str | None


# -- Real processes ----------------------------------------------------------------------------


# Accounts mode, five failed logins per account, and a limit per address far above what the
# tests reach (every request comes from 127.0.0.1).
LIMITS = {"auth": "accounts", "login_attempts": 5, "login_attempts_per_address": 1000}


def _login(client: httpx.Client, name: str, password: str) -> Answer:
    response = client.post("/api/auth/login", json={"name": name, "password": password})
    return Answer(response.status_code, response.json(), response.headers.get("retry-after"))


def _logins_at_once(urls: list[str], count: int, password: str = WRONG) -> list[Answer]:
    """`count` logins as alice, spread round robin over the servers at `urls`, each from its own
    thread and connection, released together."""
    barrier = threading.Barrier(count)

    def one(i: int) -> Answer:
        with http_client(urls[i % len(urls)]) as client:
            client.get("/api/auth/me")  # connect now
            barrier.wait(timeout=60)
            return _login(client, "alice", password)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _check_limited(answers: list[Answer]) -> None:
    statuses = sorted(a.status for a in answers)
    assert statuses == [401] * 5 + [429] * 25, [(a.status, a.detail) for a in answers]
    for answer in answers:
        if answer.status == 401:
            assert answer.detail == {"detail": "Wrong name or password."}
        else:
            assert answer.retry_after is not None and int(answer.retry_after) > 0
            assert "Try again in" in answer.detail["detail"]


@pytest.mark.slow
def test_a_burst_of_wrong_logins_gets_exactly_the_allowed_password_checks(
    database_url: str,
) -> None:
    # One server, in a thread of this process: a real HTTP server without an interpreter to start.
    add_user(database_url, "alice", PASSWORD)
    with serve_in_thread(Echo().agent(), database_url, **LIMITS) as url:
        _check_limited(_logins_at_once([url], 30))
        with http_client(url) as client:
            # The account waits now, even with the right password.
            assert _login(client, "alice", PASSWORD).status == 429


@pytest.mark.slow
def test_the_login_limit_holds_across_processes(
    database_url: str, serve: Callable[..., Server]
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process")
    add_user(database_url, "alice", PASSWORD)
    a, b = side_by_side(serve, 2, env=settings_env(**LIMITS))
    _check_limited(_logins_at_once([a.url, b.url], 30))
    for server in (a, b):
        with server.client() as client:
            assert _login(client, "alice", PASSWORD).status == 429


# -- In process --------------------------------------------------------------------------------


def _with_user(client: TestClient, name: str = "alice") -> Accounts:
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    client.portal.call(accounts.add_user, name, PASSWORD)  # type: ignore[union-attr]
    return accounts


def _status(
    client: TestClient, name: str, password: str, headers: list[tuple[str, str]] | None = None
) -> int:
    response = client.post(
        "/api/auth/login", json={"name": name, "password": password}, headers=headers
    )
    client.cookies.clear()
    status: int = response.status_code
    return status


def test_a_successful_login_does_not_count_and_clears_the_accounts_failures(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(
        Echo().agent(), auth="accounts", login_attempts=5, login_attempts_per_address=100
    )
    _with_user(client)
    for _ in range(4):
        assert _status(client, "alice", WRONG) == 401
    assert _status(client, "alice", PASSWORD) == 200
    # Five more wrong ones are allowed: the four before the success are forgotten.
    for _ in range(5):
        assert _status(client, "alice", WRONG) == 401
    assert _status(client, "alice", WRONG) == 429
    assert _status(client, "alice", PASSWORD) == 429


def test_successful_logins_do_not_count_against_the_address(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(
        Echo().agent(), auth="accounts", login_attempts=100, login_attempts_per_address=2
    )
    _with_user(client)
    for _ in range(5):
        assert _status(client, "alice", PASSWORD) == 200
    # The address still has both of its failures to spend.
    assert _status(client, "alice", WRONG) == 401
    assert _status(client, "nobody", WRONG) == 401
    assert _status(client, "alice", WRONG) == 429


class RecordingHasher:
    """A PasswordHasher that records the thread each hash runs in."""

    def __init__(self, inner: PasswordHasher, threads: list[int]) -> None:
        self.inner = inner
        self.threads = threads

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.threads.append(threading.get_ident())
        return self.inner.hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        return self.inner.verify(hash, password)


def test_passwords_are_hashed_and_checked_off_the_event_loop(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent(), auth="accounts")
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    passwords: Passwords = accounts.passwords
    checks: list[int] = []
    hashes: list[int] = []
    check = passwords._check

    def recorded_check(stored: str, password: str) -> bool:
        checks.append(threading.get_ident())
        return check(stored, password)

    passwords._check = recorded_check  # type: ignore[method-assign]
    passwords._hasher = RecordingHasher(passwords._hasher, hashes)  # type: ignore[assignment]

    async def loop_thread() -> int:
        return threading.get_ident()

    event_loop = client.portal.call(loop_thread)  # type: ignore[union-attr]

    _with_user(client)  # hashes a password
    assert _status(client, "alice", WRONG) == 401
    assert _status(client, "alice", PASSWORD) == 200
    assert _status(client, "nobody", WRONG) == 401  # checked against a dummy hash, made first
    assert len(checks) == 3
    assert hashes  # alice's password, and the dummy hash
    assert event_loop not in checks + hashes


# -- The client address behind a trusted proxy -------------------------------------------------


def test_failed_logins_count_against_the_address_the_proxy_saw(
    make_client: Callable[..., TestClient],
) -> None:
    # TestClient's connections come from "testclient": the trusted proxy here.
    client = make_client(
        Echo().agent(),
        auth="accounts",
        trusted_proxies=["testclient"],
        login_attempts=100,
        login_attempts_per_address=2,
    )
    _with_user(client)

    def forwarded(claimed: str, seen: str) -> list[tuple[str, str]]:
        # The client wrote the first line; the proxy added the address it saw as a second.
        return [("x-forwarded-for", claimed), ("x-forwarded-for", seen)]

    assert _status(client, "alice", WRONG, forwarded("6.6.6.1", "1.2.3.4")) == 401
    assert _status(client, "alice", WRONG, forwarded("6.6.6.2", "1.2.3.4")) == 401
    assert _status(client, "alice", WRONG, forwarded("6.6.6.3", "1.2.3.4")) == 429
    # Another client of the proxy has its own count, whatever it claims to be.
    assert _status(client, "alice", WRONG, forwarded("1.2.3.4", "5.6.7.8")) == 401
    # And a client claiming to be someone else, on one line, is still itself.
    assert _status(client, "alice", WRONG, [("x-forwarded-for", "6.6.6.4, 1.2.3.4")]) == 429


def test_the_client_address_is_the_right_most_untrusted_hop() -> None:
    proxies = frozenset({"10.0.0.1", "10.0.0.2"})
    assert client_address(["1.2.3.4"], proxies) == "1.2.3.4"
    # What the client wrote (on the left, or on an earlier line) is not believed.
    assert client_address(["6.6.6.6, 1.2.3.4"], proxies) == "1.2.3.4"
    assert client_address(["6.6.6.6", "1.2.3.4"], proxies) == "1.2.3.4"
    assert client_address(["6.6.6.6, 7.7.7.7", "1.2.3.4"], proxies) == "1.2.3.4"
    # Our own proxies are skipped, on any line.
    assert client_address(["6.6.6.6, 1.2.3.4, 10.0.0.2"], proxies) == "1.2.3.4"
    assert client_address(["6.6.6.6", "1.2.3.4", "10.0.0.2, 10.0.0.1"], proxies) == "1.2.3.4"
    assert client_address(["6.6.6.6, 1.2.3.4", "10.0.0.1"], proxies) == "1.2.3.4"
    # Spaces and empty hops do not count.
    assert client_address([" 6.6.6.6 ,  1.2.3.4 , ,", ""], proxies) == "1.2.3.4"
    # Nothing but our proxies, or nothing at all: no address.
    assert client_address(["10.0.0.1", "10.0.0.2, 10.0.0.1"], proxies) is None
    assert client_address([], proxies) is None
    assert client_address([""], proxies) is None
