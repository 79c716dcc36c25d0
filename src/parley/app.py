"""`create_app`: builds the ASGI app; everything it needs comes in through its arguments.

It is Parley's Python API (`from parley import create_app`, docs/embedding.md): the app serves
on its own (`parley serve`) or mounted under a path of a developer's own FastAPI or Starlette
app, where every URL it writes carries the mount's path (web/mount.py) and its services start
with the first request (web/startup.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic_ai.agent import AbstractAgent
from pydantic_ai.models import Model
from starlette.middleware.gzip import GZipMiddleware

from .accounts.passwords import Passwords
from .accounts.ratelimit import LoginLimits
from .accounts.store import Accounts
from .agents.catalog import build_catalog
from .agents.loading import close_agent, load_agent, load_models, model_label, model_notice
from .agents.mcp import McpServers
from .chat.store import Store
from .db.clock import now
from .db.engine import create_engine
from .db.migrate import upgrade
from .observe.metrics import Metrics
from .observe.tracing import Tracing
from .render import highlight_css
from .runs.service import Runs
from .settings import Settings
from .version import __version__
from .web import errors
from .web.assets import Assets
from .web.deps import DepsFactory, Services, current_owner
from .web.observe import RequestObserver
from .web.routes import (
    ag_ui,
    apidocs,
    archive,
    auth,
    catalog,
    conversations,
    feedback,
    files,
    health,
    inspect,
    messages,
    metrics,
    pages,
    runs,
    search,
    shares,
    tokens,
    tools,
    usage,
    vercel_ai,
)
from .web.security import BodySizeLimit, RequestGuard, SecurityHeaders
from .web.startup import Lifecycle, StartOnFirstRequest
from .web.tracing import HideQueryValues, telemetry


def create_app(
    settings: Settings | None = None,
    agent: AbstractAgent[Any, Any] | None = None,
    models: list[tuple[str, Model]] | None = None,
    *,
    deps: DepsFactory | None = None,
) -> FastAPI:
    """Build Parley as an ASGI app.

    - `settings`: Parley's settings; by default read from the environment (`PARLEY_*`).
    - `agent`: your Pydantic AI agent (its tools, instructions, output type), instead of the
      one the settings name (`PARLEY_AGENT`, `PARLEY_MODEL`).
    - `models`: the models a conversation can choose from, as (id, model) pairs, instead of
      `PARLEY_MODELS`.
    - `deps`: builds the agent's `deps` for each reply from who asks (an `Asker`: the user's
      id and name, and the request); may be async. Without it the agent gets `deps=None`.
    """
    settings = settings if settings is not None else Settings()
    choices = models if models is not None else load_models(settings)
    chosen = agent if agent is not None else load_agent(settings, choices)
    offer = build_catalog(chosen, choices, model_label(chosen))
    # The operator's MCP servers: read now (a broken file stops start-up), started below.
    mcp = McpServers.from_file(settings.mcp_config)
    # Prometheus metrics of this app alone (PARLEY_METRICS), served at /metrics.
    metrics_ = Metrics() if settings.metrics else None
    # OpenTelemetry traces when the operator set them up (OTEL_* or their own provider).
    tracing = Tracing.configure(settings)
    services = Services(
        settings,
        model=offer.default.id,
        model_notice=model_notice(chosen),
        catalog=offer,
        assets=Assets(pages.STATIC, {"highlight.css": highlight_css().encode()}),
        tools=mcp,
        deps_factory=deps,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_timeout=settings.database_pool_timeout,
        )
        tracing.instrument(engine)
        await upgrade(engine)
        passwords = Passwords(
            time_cost=settings.password_time_cost, memory_cost=settings.password_memory_kib
        )
        services.store = store = Store(engine)
        services.accounts = Accounts(engine, passwords)
        services.login_limits = LoginLimits(
            engine, settings.login_attempts, settings.login_attempts_per_address
        )
        services.runs = runs_ = Runs(
            store,
            chosen,
            offer,
            settings,
            tools=mcp,
            metrics=metrics_,
            capabilities=tracing.capabilities(),
        )
        if metrics_ is not None:
            metrics_.watch_database(engine)
        if engine.dialect.name == "sqlite":
            # One process per SQLite file: whatever is still running was left by a dead one.
            await runs_.run_store.interrupt()
        else:
            # Other processes may be generating: only runs that stopped beating are dead.
            stale = now() - timedelta(seconds=settings.run_stale_after)
            await runs_.run_store.interrupt(stale_before=stale)
        reaper = asyncio.create_task(runs_.reap(), name="parley-reaper")
        # Once per process: a server entered here serves every run (a stdio one is one process).
        await mcp.start()
        try:
            yield
        finally:
            reaper.cancel()
            # Let it finish being cancelled (roll back a transaction it was in) while the
            # engine still exists: left pending, it could hang the event loop's close.
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await runs_.shutdown()
            await mcp.stop()
            await engine.dispose()
            passwords.close()
            if agent is None:
                close_agent(chosen, choices)
            await tracing.shutdown()

    lifecycle = Lifecycle(lifespan)
    # FastAPI's own docs page loads its scripts from a CDN: Parley serves its own (apidocs).
    app = FastAPI(
        title="Parley",
        version=__version__,
        lifespan=lifecycle.context,
        docs_url=None,
        redoc_url=None,
        # A span per HTTP request, by route (web/tracing.py), when tracing is on.
        telemetry=telemetry(tracing),
    )
    app.state.services = services
    errors.install(app)

    api = APIRouter(prefix="/api", dependencies=[Depends(current_owner)])
    api.include_router(pages.info)
    api.include_router(catalog.router)
    api.include_router(conversations.router)
    api.include_router(messages.router)
    api.include_router(runs.router)
    api.include_router(search.router)
    api.include_router(tokens.router)
    api.include_router(tools.router)
    api.include_router(usage.router)
    api.include_router(files.router)
    api.include_router(archive.router)
    api.include_router(shares.router)
    api.include_router(feedback.router)
    api.include_router(inspect.router)
    # Other front ends' protocols (runs/protocols/): the same runs, owner checks and limits.
    api.include_router(vercel_ai.router)
    api.include_router(ag_ui.router)
    app.include_router(api)
    # A shared conversation's page and snapshot decide who may see them themselves
    # (PARLEY_PUBLIC_SHARES): they cannot need a user the way the rest of /api does.
    app.include_router(shares.public)
    # Logging in is the one thing that cannot need a user already.
    app.include_router(auth.router, prefix="/api")
    app.include_router(pages.pages)
    app.include_router(apidocs.router)
    # For load balancers, orchestrators and scrapers: outside /api, no user (they decide).
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.mount("/docs/assets", StaticFiles(directory=apidocs.SWAGGER_UI), name="apidocs")

    # Innermost: what it compresses is the final body. Event streams are left alone (its
    # default exclusions), so a reply's frames are never held back in a compressor's buffer.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        max_file_bytes=settings.max_file_bytes,
        max_import_bytes=settings.max_import_bytes,
    )
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(SecurityHeaders)
    # Outside the guards, so that what they refuse is counted and has a request id.
    app.add_middleware(RequestObserver, settings=settings, metrics=metrics_)
    # Content off, a query string's values stay out of the request's span.
    app.add_middleware(HideQueryValues, tracing=tracing)
    # Outermost: mounted in another app, no lifespan ran, and the first request starts Parley.
    app.add_middleware(StartOnFirstRequest, lifecycle=lifecycle)
    return app
