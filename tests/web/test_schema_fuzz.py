"""A bounded schemathesis run over Parley's whole OpenAPI schema: no request gets a 5xx.

In process, through schemathesis's ASGI transport (which runs the app's lifespan), against an
app with a temporary SQLite file and a FunctionModel agent, in local and in accounts mode.
Every operation gets valid and invalid requests; each is sent as generated, then again with
its path ids swapped for objects that exist (a conversation with a reply, a finished run, an
API token), since random ids alone only ever reach a route's 404.

Hypothesis drives the operations' strategies directly rather than through schemathesis's
pytest plugin: its lazy `from_fixture` loader sets `Node._nodeid`, which pytest 9.2 no longer
has.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from parley.accounts.passwords import Passwords
from parley.accounts.store import Accounts
from parley.app import create_app
from parley.db.engine import create_engine
from parley.db.migrate import upgrade
from parley.settings import Settings

from ..support.client import parse_sse

EXAMPLES = 12  # requests per operation, valid and invalid ones mixed
_USER, _PASSWORD = "fuzz", "a long enough password"


async def _reply(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
    for chunk in ("A short", " reply."):
        yield chunk


@dataclass
class _Known:
    """Objects that exist, for a second request's path ids, and how requests authenticate."""

    client: Any  # schemathesis's in-process client (a requests.Session)
    headers: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def seed(self) -> None:
        """(Re)create a conversation with a finished reply, and an API token in accounts mode."""
        created = self.client.post("/api/conversations", json={}, headers=self.headers)
        assert created.status_code == 201, created.text
        conversation_id = created.json()["id"]
        sent = self.client.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"prompt": "hello"},
            headers=self.headers,
        )
        assert sent.status_code == 200, sent.text
        frames = parse_sse(sent.text)
        assert frames[-1].event == "done", frames
        self.ids["conversation_id"] = conversation_id
        self.ids["run_id"] = next(f.data["run_id"] for f in frames if f.event == "start")
        token = self.client.post("/api/tokens", json={"name": "fuzz"}, headers=self.headers)
        if token.status_code == 201:
            self.ids["token_id"] = token.json()["id"]

    def log_in(self) -> None:
        """Accounts mode: log in, make an API token, and send it with every later request."""
        login = self.client.post("/api/auth/login", json={"name": _USER, "password": _PASSWORD})
        assert login.status_code == 200, login.text
        token = self.client.post("/api/tokens", json={"name": "auth"})
        assert token.status_code == 201, token.text
        self.client.cookies.clear()  # the fuzzed requests carry the token, no cookie
        self.headers["Authorization"] = f"Bearer {token.json()['token']}"


def _add_user(database_url: str) -> None:
    async def add() -> None:
        engine = create_engine(database_url)
        try:
            await upgrade(engine)
            await Accounts(engine, Passwords(time_cost=1, memory_cost=32)).add_user(
                _USER, _PASSWORD
            )
        finally:
            await engine.dispose()

    asyncio.run(add())


def _server_tracebacks(caplog: pytest.LogCaptureFixture) -> str:
    """What the app logged for the 5xx answers (errors.py logs each unexpected exception)."""
    return "\n".join(
        f"{r.getMessage()}\n{r.exc_text or ''}"
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("parley")
    )


def _fuzz(operation: Any, known: _Known, seen: Counter[int]) -> None:
    """Send EXAMPLES generated requests to one operation; raise on the first 5xx."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode

    def send(case: Any) -> None:
        response = case.call(headers=known.headers)
        seen[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error], headers=known.headers)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests every run: a failure reproduces
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in GenerationMode)))
    def fuzz(case: Any) -> None:
        send(case)
        swapped = {n: known.ids[n] for n in case.path_parameters if n in known.ids}
        if swapped:
            real = case.derive()
            real.path_parameters = {**case.path_parameters, **swapped}
            send(real)
            if case.method.upper() == "DELETE":
                known.seed()  # the next request finds something to work on again

    fuzz()


@pytest.mark.parametrize("mode", ["local", "accounts"])
def test_no_request_gets_a_server_error(
    mode: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schemathesis = pytest.importorskip(
        "schemathesis", reason="schemathesis is a dev dependency (pyproject.toml); not installed"
    )
    from schemathesis.python import asgi

    database_url = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
    if mode == "accounts":
        _add_user(database_url)
    # schemathesis's client sends `Host: testserver`; local mode answers loopback names only.
    settings = Settings(
        database_url=database_url,
        model=None,
        auth="accounts" if mode == "accounts" else "local",
        allowed_hosts=[asgi.HOST],
        # Cheap hashing: every generated login checks a password.
        password_time_cost=1,
        password_memory_kib=32,
    )
    app = create_app(
        settings, agent=Agent(FunctionModel(stream_function=_reply, model_name="fuzz"))
    )
    statuses: dict[str, Counter[int]] = {}
    failures: dict[str, str] = {}
    try:
        # Loading the schema starts the app's lifespan (database, runs) on schemathesis's event
        # loop thread; every later request through its ASGI transport shares it.
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        assert app.state.services.store is not None, "the app's lifespan did not run"
        # schemathesis types an ASGI app's `send` as taking a dict, Starlette's app calls it
        # with any MutableMapping: the same protocol, typed apart.
        with asgi.get_client(app) as client:  # type: ignore[arg-type]
            known = _Known(client)
            if mode == "accounts":
                known.log_in()
            known.seed()
            for result in schema.get_all_operations():
                operation = result.ok()
                caplog.clear()
                try:
                    _fuzz(operation, known, statuses.setdefault(operation.label, Counter()))
                except Exception as exc:
                    failures[operation.label] = "".join(
                        traceback.format_exception_only(exc)
                    ) + _server_tracebacks(caplog)
    finally:
        # Ends the lifespan that schemathesis started: runs shut down, the engine disposed.
        asgi.shutdown_lifespans()

    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    # Not vacuous: every operation was reached, and some requests got through to the routes.
    assert len(statuses) >= 10 and all(statuses.values()), statuses
    answered = Counter[int]()
    for seen in statuses.values():
        answered.update(seen)
    assert sum(n for status, n in answered.items() if 200 <= status < 300) >= len(statuses)
    assert answered[421] == 0, answered  # the Host check let the test client in
    refused = {label for label, seen in statuses.items() if seen[401]}
    assert refused <= {"POST /api/auth/login"}, statuses  # every request was authenticated
