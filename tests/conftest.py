from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic_ai.models
import pytest
from fastapi.testclient import TestClient
from pydantic_ai.agent import AbstractAgent
from pydantic_ai.models import Model

from parley.app import create_app
from parley.settings import Settings

from .support.browser import chromium
from .support.databases import (
    BACKENDS,
    NO_POSTGRES,
    POSTGRES_ENV,
    postgres_database,
    postgres_server,
    sqlite_url,
)
from .support.fake_openai import FakeOpenAI
from .support.processes import Server, servers

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# No test may reach a real model provider.
pydantic_ai.models.ALLOW_MODEL_REQUESTS = False
# Cheap password hashing for the CLI called in process (Settings read the environment), as
# tests/support/processes.py sets for server processes: production cost tests nothing more.
os.environ.setdefault("PARLEY_PASSWORD_TIME_COST", "1")
os.environ.setdefault("PARLEY_PASSWORD_MEMORY_KIB", "32")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Without a server the fixture skips each PostgreSQL variant; marked here too, pytest folds
    # their reports into one line per file instead of one per test.
    if os.environ.get(POSTGRES_ENV):
        return
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgresql":
            item.add_marker(pytest.mark.skip(reason=NO_POSTGRES))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for the test, on each backend: a SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "parley.db")
        return
    with postgres_database(postgres_server()) as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database for a test that needs PostgreSQL whatever the backend
    (skipped without a server)."""
    with postgres_database(postgres_server()) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Cheap password hashing: production cost (PARLEY_PASSWORD_*) would make each login and
    # user 0.5 s slower and test nothing more.
    return Settings(
        database_url=database_url, model=None, password_time_cost=1, password_memory_kib=32
    )


@pytest.fixture
def make_client(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(
        agent: AbstractAgent[Any, Any] | None,
        models: list[tuple[str, Model]] | None = None,
        **overrides: Any,
    ) -> TestClient:
        app = create_app(settings.model_copy(update=overrides), agent=agent, models=models)
        client = TestClient(app, base_url="http://localhost")
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def serve(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Server]]:
    """Start real `parley serve` processes (args, env=…) on the test's database; each is
    stopped after the test."""
    with servers(tmp_path, database_url) as start:
        yield start


@pytest.fixture(scope="module")
def _chromium() -> Iterator[Browser]:
    # One launch for the tests of a module that a worker runs in a row: a launch costs
    # seconds of CPU. Closed before the worker goes on to another module, whose tests may
    # call asyncio.run on this thread (see chromium()).
    with chromium() as browser:
        yield browser


@pytest.fixture
def browser(_chromium: Browser) -> Iterator[Browser]:
    """Chromium (tests.support.browser.chromium), shared by a module's tests; every page and
    context a test opens is closed after it, so each test starts from a browser with none."""
    yield _chromium
    for context in _chromium.contexts:
        context.close()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible provider on 127.0.0.1 (tests.support.fake_openai)."""
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()
