"""Prometheus metrics of one app: its requests, its replies, its database pool and the local
model's queue, in a registry of its own (never prometheus_client's global one: a process may
build many apps, as the tests do, and each counts only its own).

Every label has a bounded set of values: a route's path template (never the path a client
sent), a known HTTP method, a status code, a model of the catalog, a reply's status.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

# Anything else a client sends as a method is counted as "other": a label value per made-up
# method would let any client grow the metrics without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Requests answer in milliseconds; a reply's event stream is one request that lasts as long
# as the reply (its route says so), hence the long tail.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_FIRST_TOKEN_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120)
# The token counts of a reply's usage, as Usage.model_dump() names them, and their label.
_TOKEN_KINDS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_read_tokens": "cache_read",
}


class Metrics:
    """What one app counts; `exposition()` is the body of /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._requests = Counter(
            "parley_http_requests",
            "HTTP requests answered, by method, route (path template) and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self._request_seconds = Histogram(
            "parley_http_request_duration_seconds",
            "Seconds from a request's arrival to the end of its response (a reply's event "
            "stream lasts as long as the reply).",
            ["method", "route"],
            buckets=_REQUEST_BUCKETS,
            registry=registry,
        )
        self._running = Gauge(
            "parley_replies_running",
            "Replies this process is generating now.",
            registry=registry,
        )
        self._replies = Counter(
            "parley_replies",
            "Replies ended, by model and status (complete, stopped, interrupted, error, "
            "awaiting_approval).",
            ["model", "status"],
            registry=registry,
        )
        self._first_token = Histogram(
            "parley_reply_first_token_seconds",
            "Seconds from a reply's start to its first text or thinking.",
            ["model"],
            buckets=_FIRST_TOKEN_BUCKETS,
            registry=registry,
        )
        self._tokens = Counter(
            "parley_tokens",
            "Tokens of ended replies, by model and kind (input, output, cache_read).",
            ["model", "kind"],
            registry=registry,
        )
        self._cost = Counter(
            "parley_cost_usd",
            "US dollars the ended replies cost, by model (genai-prices; unknown prices add 0).",
            ["model"],
            registry=registry,
        )
        self._sampled = _Sampled()
        registry.register(self._sampled)

    # -- Recording ------------------------------------------------------------------------

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        self._requests.labels(method, route, str(status)).inc()
        self._request_seconds.labels(method, route).observe(seconds)

    def reply_started(self) -> None:
        self._running.inc()

    def first_token(self, model: str, seconds: float) -> None:
        self._first_token.labels(model).observe(seconds)

    def reply_ended(self, model: str, status: str, usage: Mapping[str, Any] | None) -> None:
        """A reply ended (its `done` event): `usage` as the event carries it, or None."""
        self._running.dec()
        self._replies.labels(model, status).inc()
        if not usage:
            return
        for key, kind in _TOKEN_KINDS.items():
            count = usage.get(key) or 0
            if count > 0:
                self._tokens.labels(model, kind).inc(count)
        cost = usage.get("cost")
        if cost:
            self._cost.labels(model).inc(max(float(cost), 0.0))

    def watch_database(self, engine: AsyncEngine) -> None:
        """Report `engine`'s connection pool at each scrape."""
        self._sampled.engine = engine

    # -- Reading --------------------------------------------------------------------------

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics as the scraper asked (`Accept`: OpenMetrics or Prometheus text), and
        their content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class _Sampled(Collector):
    """What is read at scrape time rather than counted: the database pool, the local model."""

    def __init__(self) -> None:
        self.engine: AsyncEngine | None = None

    def collect(self) -> Iterator[Metric]:
        yield from self._pool()
        yield from _local_models()

    def _pool(self) -> Iterator[Metric]:
        if self.engine is None:
            return
        # Read from the engine each time: dispose() replaces its pool.
        pool: Any = self.engine.sync_engine.pool
        # A queue pool (PostgreSQL, a SQLite file) has a size; other pools only count.
        for name, doc, read in (
            ("parley_db_pool_size", "Connections the pool keeps.", "size"),
            ("parley_db_pool_checked_out", "Connections in use now.", "checkedout"),
            ("parley_db_pool_overflow", "Connections open beyond the pool's size.", "overflow"),
        ):
            method = getattr(pool, read, None)
            if callable(method):
                yield GaugeMetricFamily(name, doc, value=float(method()))


def _local_models() -> Iterator[Metric]:
    """The llama.cpp models this process loaded (agents/local): replies waiting for each or
    being generated, and whether it is generating now (a title too)."""
    # Only if a local model was ever used: scraping must not import (or load) llama.cpp.
    module = sys.modules.get("parley.agents.local.engine")
    if module is None:
        return
    # Private reads: the engine has no public count of its queue (see the report to the lead).
    engines = list(getattr(module, "_engines", {}).values())
    if not engines:
        return
    requests = GaugeMetricFamily(
        "parley_local_model_requests",
        "Replies waiting for the local model or being generated by it.",
        labels=["model"],
    )
    busy = GaugeMetricFamily(
        "parley_local_model_busy",
        "1 while the local model is generating (a reply or a title).",
        labels=["model"],
    )
    for engine in engines:
        name = engine.path.name
        requests.add_metric([name], float(getattr(engine, "_foreground", 0)))
        busy.add_metric([name], 1.0 if engine.generating.is_set() else 0.0)
    yield requests
    yield busy
