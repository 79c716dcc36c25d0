"""What a log line says about where it comes from (the request, the reply's run, the user, the
trace), and log lines as JSON (`PARLEY_LOG_FORMAT=json`): one object per line.

The request middleware (web/observe.py) binds a request's id and user; a run binds its own id
and owner in its task, which inherits the id of the request that started it. The trace id is
OpenTelemetry's current span's, so lines carry it whenever tracing is set up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace


@dataclass(frozen=True, slots=True)
class LogContext:
    request_id: str | None = None
    run_id: str | None = None
    user_id: str | None = None
    # A request's user is decided by a route's dependency, after the middleware has bound the
    # context: this reads it when a line is written.
    user: Callable[[], str | None] | None = None

    def who(self) -> str | None:
        if self.user_id is not None or self.user is None:
            return self.user_id
        return self.user()


# LogContext is frozen: the default is never changed, only replaced (bind).
_context: ContextVar[LogContext] = ContextVar("parley_log_context", default=LogContext())  # noqa: B039


def log_context() -> LogContext:
    return _context.get()


def bind(**fields: Any) -> Token[LogContext]:
    """Add `fields` (LogContext's) to the context of this task and what it starts."""
    return _context.set(replace(_context.get(), **fields))


def unbind(token: Token[LogContext]) -> None:
    _context.reset(token)


@contextmanager
def bound(**fields: Any) -> Iterator[LogContext]:
    token = bind(**fields)
    try:
        yield _context.get()
    finally:
        unbind(token)


def trace_ids() -> tuple[str | None, str | None]:
    """The current trace and span ids as hex, or None without a recording span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# uvicorn's access log passes these as the record's arguments.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: newlines in a message or a traceback are
    escaped, and so is any non-ASCII text (a lone surrogate from a client cannot break the
    stream's encoding)."""

    def format(self, record: logging.LogRecord) -> str:
        context = _context.get()
        trace_id, span_id = trace_ids()
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": context.request_id,
            "run_id": context.run_id,
            "user_id": context.who(),
            "trace_id": trace_id,
            "span_id": span_id,
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            line.update(zip(_ACCESS_FIELDS, args, strict=True))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)
