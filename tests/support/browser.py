"""A real Parley server in a thread, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic_ai.agent import AbstractAgent
from pydantic_ai.models import Model

from parley.app import create_app
from parley.settings import Settings

from .databases import sqlite_url
from .processes import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
# Chromium's own background traffic would fail on a closed network; keep it quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("PARLEY_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, launched through Playwright until the block ends (the test is
    skipped without it, or fails with PARLEY_REQUIRE_BROWSER set).

    Meanwhile Playwright's sync API keeps an event loop running on this thread, where
    asyncio.run refuses to start: run coroutines in a thread of their own.
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve(
    agent: AbstractAgent[Any, Any],
    database: Path | str,
    models: list[tuple[str, Model]] | None = None,
    /,
    **overrides: Any,
) -> Iterator[str]:
    """Run Parley on a free loopback port until the block ends; yields its base URL.

    `database` is a SQLite file or a SQLAlchemy URL (the `database_url` fixture's); `models`,
    the models offered per conversation (create_app's). With `mount` ("/chat"), Parley is
    mounted at that path of a developer's FastAPI app, as docs/embedding.md shows, and the
    base URL ends with it.
    """
    port = free_port()
    url = database if isinstance(database, str) else sqlite_url(database)
    # Not a setting: where the developer's app mounts Parley.
    mount: str = overrides.pop("mount", "")
    settings = Settings(database_url=url, port=port, **overrides)
    app = create_app(settings, agent=agent, models=models)
    if mount:
        app = _host(mount, app)
    with in_thread(app, port, "Parley"):
        yield f"http://127.0.0.1:{port}{mount}"


def _host(mount: str, parley: Any) -> Any:
    """A developer's own app with a page of its own, and Parley mounted under `mount`: no
    lifespan of Parley's runs (Starlette runs none for a mounted app)."""
    host = FastAPI()

    @host.get("/", response_class=PlainTextResponse)
    def home() -> str:
        return "The host app"

    host.mount(mount, parley)
    return host


@contextmanager
def in_thread(app: Any, port: int, name: str) -> Iterator[None]:
    """Serve the ASGI `app` with uvicorn on 127.0.0.1:`port` in a thread until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def open_page(browser: Browser, url: str) -> tuple[Page, list[str]]:
    """A page at `url`, and the page errors it raises (a test expects none)."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, errors
