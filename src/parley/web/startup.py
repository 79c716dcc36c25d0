"""Starting Parley's services when no server started them: Parley mounted in another app.

A server (uvicorn) runs the lifespan of the app it serves, and Starlette runs no lifespan of an
app mounted inside it: `app.mount("/chat", create_app(...))` would answer every request before
the database, the runs and the MCP servers exist. So the first request starts them (once, under
a lock) when the lifespan has not. They then live as long as the process; a host that wants a
clean shutdown (replies in flight saved as interrupted at once, not at the next start) runs
Parley's lifespan in its own: `FastAPI(lifespan=chat.router.lifespan_context)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from opentelemetry import context as otel_context
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Lifecycle", "StartOnFirstRequest"]


class Lifecycle:
    """Parley's lifespan, entered at most once at a time, by a server or by a first request."""

    def __init__(self, lifespan: Callable[[Any], AbstractAsyncContextManager[None]]) -> None:
        self._lifespan = lifespan
        self.started = False
        self._lock: asyncio.Lock | None = None
        # The lifespan a first request entered: kept open for the life of the process.
        self._kept = AsyncExitStack()

    @asynccontextmanager
    async def context(self, app: Any) -> AsyncIterator[None]:
        """The app's lifespan (FastAPI's `lifespan=`): starts the services, stops them."""
        if self.started:  # a first request got there before the host's lifespan
            yield
            return
        async with self._lifespan(app):
            self.started = True
            try:
                yield
            finally:
                self.started = False

    async def ensure_started(self, app: Any) -> None:
        if self.started:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self.started:
                # Outside the request's trace: the tasks the services start (the reaper, MCP
                # servers) would otherwise add to it for the life of the process.
                token = otel_context.attach(otel_context.Context())
                try:
                    await self._kept.enter_async_context(self.context(app))
                finally:
                    otel_context.detach(token)


class StartOnFirstRequest:
    """ASGI middleware, outermost: a request that arrives before Parley has started starts it."""

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self.lifecycle.started:
            await self.lifecycle.ensure_started(scope.get("app"))
        await self.app(scope, receive, send)
