"""JSON logs: one object per line, naming the request, the run, the user and the trace."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, use_span
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel
from starlette.types import Receive, Scope, Send

from parley.observe.logs import JsonFormatter, bound
from parley.settings import Settings
from parley.web.observe import RequestObserver

from ..support.client import new_conversation, parse_sse
from ..support.processes import servers

agent_log = logging.getLogger("parley.tests.agent")


@pytest.fixture
def lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """What Parley's loggers write through the JSON formatter, as parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("parley")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def read() -> list[dict[str, Any]]:
        text = stream.getvalue()
        assert text.endswith("\n")
        return [json.loads(line) for line in text.splitlines()]

    try:
        yield read
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _logging_agent() -> Agent[None, str]:
    async def stream(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        agent_log.info("answering\nin two lines")
        yield "Hello."

    return Agent(FunctionModel(stream_function=stream, model_name="logging"))


def test_a_runs_lines_name_its_request_run_and_user(
    make_client: Callable[..., TestClient], lines: Callable[[], list[dict[str, Any]]]
) -> None:
    client = make_client(_logging_agent())
    cid = new_conversation(client)
    with client.stream(
        "POST", f"/api/conversations/{cid}/messages", json={"prompt": "hi"}
    ) as response:
        request_id = response.headers["x-request-id"]
        frames = parse_sse(response.read().decode())
    run_id = next(f.data["run_id"] for f in frames if f.event == "start")

    [line] = [line for line in lines() if line["logger"] == "parley.tests.agent"]
    assert line["message"] == "answering\nin two lines"
    assert line["level"] == "INFO"
    assert line["request_id"] == request_id
    assert line["run_id"] == run_id
    assert line["user_id"] == "local"
    assert line["trace_id"] is None and line["span_id"] is None
    assert line["time"].endswith("+00:00")


def test_a_requests_user_is_named_once_a_route_knows_it(
    lines: Callable[[], list[dict[str, Any]]],
) -> None:
    class User:
        id = "u-123"

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        agent_log.info("before the login")
        scope["parley_user"] = User()  # what web/identity.py does
        agent_log.info("after it")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = RequestObserver(route, Settings(auth="accounts"), None)
    # No lifespan (`with`): the bare route answers requests only.
    response = TestClient(app).get("/", headers={"X-Request-ID": "req-0000-0001"})
    assert response.headers["x-request-id"] == "req-0000-0001"
    before, after = [line for line in lines() if line["logger"] == "parley.tests.agent"]
    assert (before["user_id"], after["user_id"]) == (None, "u-123")
    assert before["request_id"] == after["request_id"] == "req-0000-0001"
    assert before["run_id"] is None


def _record(message: str, *args: Any, name: str = "parley.x", **extra: Any) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, None, **extra)


def test_one_object_per_line_whatever_the_message() -> None:
    formatter = JsonFormatter()
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        failed = _record("it failed: %s", "\ud800 lone surrogate")
        failed.exc_info = sys.exc_info()
    text = formatter.format(failed)
    assert "\n" not in text and text.isascii()
    line = json.loads(text)
    assert line["message"] == "it failed: \ud800 lone surrogate"
    assert "ValueError: bad\nthing" in line["exception"]


def test_uvicorns_access_lines_have_fields() -> None:
    access = _record(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/healthz",
        "1.1",
        200,
        name="uvicorn.access",
    )
    with bound(request_id="abc"):
        line = json.loads(JsonFormatter().format(access))
    assert line["message"] == '127.0.0.1:5000 - "GET /healthz HTTP/1.1" 200'
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["request_id"] == "abc"


def test_the_trace_id_is_the_current_spans() -> None:
    context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    with use_span(NonRecordingSpan(context)):
        line = json.loads(JsonFormatter().format(_record("traced")))
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert line["span_id"] == "00f067aa0ba902b7"
    assert json.loads(JsonFormatter().format(_record("not")))["trace_id"] is None


def test_parley_serve_writes_json_lines(tmp_path: Path) -> None:
    with servers(tmp_path) as start:
        server = start(env={"PARLEY_LOG_FORMAT": "json"})
        response = httpx.get(
            f"{server.url}/healthz", headers={"X-Request-ID": "probe-0001"}, trust_env=False
        )
        assert response.status_code == 200
        server.stop()
    written = [json.loads(line) for line in server.output().splitlines() if line.strip()]
    assert written, "nothing was logged"
    [probe] = [line for line in written if line.get("path") == "/healthz"]
    assert probe["logger"] == "uvicorn.access" and probe["request_id"] == "probe-0001"
    assert any(line["logger"] == "uvicorn.error" for line in written)
