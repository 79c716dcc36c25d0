"""HTTP requests in traces: FastAPI's own OpenTelemetry spans, set up from Parley's tracing.

FastAPI names each request's span by the route that answered it, mount prefix and router
prefixes included (`POST /api/conversations/{conversation_id}/messages`), and continues a
caller's trace (`traceparent`). Parley gives it the provider observe/tracing.py chose and turns
off the rest: its metrics (Parley's are Prometheus's, /metrics), its log records (exceptions go
to Parley's log, with the trace id) and its spans for each dependency and serialization (several
per request, for little). Tracing off, FastAPI traces nothing either, even where the process has
a provider.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from starlette.types import ASGIApp, Receive, Scope, Send

from ..observe.tracing import Tracing
from .mount import route_path

__all__ = ["HideQueryValues", "telemetry"]

# Polled by load balancers and scrapers every few seconds: traced, they would drown the rest.
_QUIET = frozenset({"/healthz", "/readyz", "/metrics"})


def telemetry(tracing: Tracing) -> TelemetryConfig:
    """`FastAPI(telemetry=…)` for this app."""
    if tracing.provider is None:
        return {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}
    return {
        "tracer_provider": tracing.provider,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        # Parley's provider, or the operator's: never one FastAPI builds from OTEL_* itself.
        "auto_configure": False,
        "exclude": lambda scope: route_path(scope) in _QUIET,
    }


class HideQueryValues:
    """ASGI middleware: with PARLEY_TRACE_CONTENT off, a request's span keeps the names of its
    query parameters, not their values, which can be a user's words (`GET /api/search?q=…`).
    FastAPI records them when the span starts, before any middleware runs."""

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.hide = tracing.enabled and not tracing.include_content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hide and scope["type"] == "http" and scope.get("query_string"):
            span = trace.get_current_span()
            if span.is_recording():
                pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                span.set_attribute("url.query", "&".join(f"{name}=REDACTED" for name, _ in pairs))
        await self.app(scope, receive, send)
