"""Every request's id and log context, and its metrics (by route template, method, status)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

from fastapi.routing import iter_route_contexts
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..observe.logs import bind, unbind
from ..observe.metrics import Metrics
from ..settings import Settings

REQUEST_ID_HEADER = "x-request-id"
# A request id a client or proxy sent is kept when it looks like one (a UUID, a hex or
# base64url string): it ends up in every log line of the request, so nothing else.
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# The label of requests no route answered (404s, refusals of web/security.py): one value,
# whatever path a client makes up.
UNMATCHED = "unmatched"


class RequestObserver:
    """ASGI middleware, outside the request guards so that what they refuse is counted too."""

    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics
        self.local = settings.auth == "local"
        # Each route's whole path template, by the route's id (see route_template).
        self._templates: dict[int, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope) or secrets.token_hex(8)
        if self.local:
            token = bind(request_id=request_id, run_id=None, user_id="local", user=None)
        else:
            token = bind(request_id=request_id, run_id=None, user_id=None, user=_user_of(scope))
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception the server answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            unbind(token)
            if self.metrics is not None:
                seconds = time.perf_counter() - started
                route = self.route_template(scope)
                self.metrics.request(scope["method"], route, status, seconds)

    def route_template(self, scope: Scope) -> str:
        """The whole path template of the route that answered, as Parley's routes see it
        (without a mount's root path).

        The router puts the route in the scope, but a route of an included router knows only
        its path within that router ("/conversations", not "/api/conversations"): the whole
        template comes from the app's route contexts, read once (the routes are fixed by then).
        """
        route = scope.get("route")
        if route is None:
            endpoint = scope.get("endpoint")
            if endpoint is None:
                return UNMATCHED
            # A mounted app (the API docs' files): the mount's path, then whatever is under it.
            mount = scope.get("root_path", "")[len(scope.get("app_root_path", "")) :]
            return f"{mount}/{{path}}" if mount else UNMATCHED
        if self._templates is None:
            app = scope.get("app")
            contexts = iter_route_contexts(getattr(app, "routes", []))
            self._templates = {
                id(context.original_route): context.path_format or context.path or ""
                for context in contexts
            }
        template = self._templates.get(id(route)) or getattr(route, "path_format", None)
        return template if isinstance(template, str) and template else UNMATCHED


def _request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else None
    return None


def _user_of(scope: Scope) -> Callable[[], str | None]:
    def user() -> str | None:
        # Set by web/identity.py once a route has asked who the request is.
        found = scope.get("parley_user")
        user_id = getattr(found, "id", None)
        return user_id if isinstance(user_id, str) else None

    return user
