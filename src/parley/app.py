"""`create_app(settings)`: builds the ASGI app; everything it needs comes in through settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic_ai.agent import AbstractAgent

from . import __version__, errors
from .accounts import Accounts
from .agents import load_agent, model_label, model_notice
from .db.engine import create_engine
from .db.migrate import upgrade
from .deps import current_owner
from .guards import RequestGuard
from .headers import SecurityHeaders
from .limits import BodySizeLimit
from .ratelimit import LOGIN_WINDOW_SECONDS, SlidingWindow
from .routes import auth, conversations, messages, pages, runs, tokens
from .runs import Runs
from .settings import Settings
from .store import Store, now


def create_app(settings: Settings, agent: AbstractAgent[Any, Any] | None = None) -> FastAPI:
    """Build Parley. `agent` overrides the one the settings name (tests pass their own)."""
    chosen = agent if agent is not None else load_agent(settings)
    label = model_label(chosen)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_timeout=settings.database_pool_timeout,
        )
        await upgrade(engine)
        store = Store(engine)
        app.state.accounts = Accounts(engine)
        app.state.store = store
        app.state.runs = runs_ = Runs(store, chosen, label, settings)
        if engine.dialect.name == "sqlite":
            # One process per SQLite file: whatever is still running was left by a dead one.
            await runs_.run_store.interrupt()
        else:
            # Other processes may be generating: only runs that stopped beating are dead.
            stale = now() - timedelta(seconds=settings.run_stale_after)
            await runs_.run_store.interrupt(stale_before=stale)
        reaper = asyncio.create_task(runs_.reap(), name="parley-reaper")
        try:
            yield
        finally:
            reaper.cancel()
            await runs_.shutdown()
            await engine.dispose()

    app = FastAPI(title="Parley", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.model = label
    app.state.model_notice = model_notice(chosen)
    app.state.login_limits = (
        SlidingWindow(settings.login_attempts, LOGIN_WINDOW_SECONDS),
        SlidingWindow(settings.login_attempts_per_address, LOGIN_WINDOW_SECONDS),
    )
    errors.install(app)

    api = APIRouter(prefix="/api", dependencies=[Depends(current_owner)])
    api.include_router(pages.info)
    api.include_router(conversations.router)
    api.include_router(messages.router)
    api.include_router(runs.router)
    api.include_router(tokens.router)
    app.include_router(api)
    # Logging in is the one thing that cannot need a user already.
    app.include_router(auth.router, prefix="/api")
    app.include_router(pages.pages)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(SecurityHeaders)
    return app
