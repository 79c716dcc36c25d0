"""OpenTelemetry traces (observe/tracing.py), sent to an OTLP/HTTP receiver on 127.0.0.1.

One reply makes one trace: the request that sent the prompt, the database statements, and the
agent run's gen_ai spans (model requests, the tool call), which a task outliving the request
produced. With PARLEY_TRACE_CONTENT off, no span holds a word of the prompt, the tool's
arguments or result, or the reply; on, they are there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from starlette.applications import Starlette
from starlette.routing import Mount

from parley.app import create_app
from parley.observe.tracing import Tracing
from parley.settings import Settings

from ..support.client import new_conversation, send
from ..support.databases import sqlite_url
from ..support.models import answers_a_prompt, prompts_of
from ..support.otlp import OtlpReceiver, Span

# Words no span may hold with content off: the prompt, and what the tool makes of it.
PROMPT = "periwinkle marmalade 7741"
SHOUTED = PROMPT.upper()
SERVER = 2  # OTLP's SPAN_KIND_SERVER
SQLALCHEMY = "opentelemetry.instrumentation.sqlalchemy"


def _shouting_agent() -> Agent[None, str]:
    """Calls `shout` with the prompt, then answers with what it said."""

    async def stream(
        messages: list[ModelMessage], _info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        if answers_a_prompt(messages):
            args = json.dumps({"text": prompts_of(messages)[-1]})
            yield {0: DeltaToolCall(name="shout", json_args=args)}
            return
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        said = [p.content for p in last.parts if isinstance(p, ToolReturnPart)]
        yield f"Heard: {said[0]}"

    agent = Agent(FunctionModel(stream_function=stream, model_name="shouter"))

    @agent.tool_plain
    def shout(text: str) -> str:
        """Says it louder."""
        return text.upper()

    return agent


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """The receiver, and the standard variables that point the app's exporter at it."""
    otlp = OtlpReceiver().start()
    for name in (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SDK_DISABLED",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_TRACES_SAMPLER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.url)
    try:
        yield otlp
    finally:
        otlp.stop()


def _one_reply(settings: Settings, receiver: OtlpReceiver, *, content: bool) -> list[Span]:
    """Spans of a session that sends one prompt and searches for it; all of them, since the
    app's shutdown sends what its exporter still holds."""
    app = create_app(settings.model_copy(update={"trace_content": content}), _shouting_agent())
    with TestClient(app, base_url="http://localhost") as client:
        conversation = new_conversation(client)
        frames = send(client, conversation, PROMPT)
        assert frames[-1].event == "done"
        assert frames[-1].data["status"] == "complete", frames[-1].data
        assert client.get("/api/search", params={"q": PROMPT}).status_code == 200
    return receiver.spans()


def _request(spans: list[Span], name: str) -> Span:
    (found,) = [s for s in spans if s.kind == SERVER and s.name == name]
    return found


def _descends(span: Span, ancestor: Span, spans: list[Span]) -> bool:
    by_id = {s.span_id: s for s in spans}
    current: Span | None = span
    while current is not None and current.parent_id:
        if current.parent_id == ancestor.span_id:
            return True
        current = by_id.get(current.parent_id)
    return False


def test_a_reply_is_one_trace_without_its_content(
    settings: Settings, receiver: OtlpReceiver
) -> None:
    spans = _one_reply(settings, receiver, content=False)

    assert {s.service for s in spans} == {"parley"}
    # Requests are named by their route, never by a path holding ids.
    post = _request(spans, "POST /api/conversations/{conversation_id}/messages")
    assert post.attributes["http.route"] == "/api/conversations/{conversation_id}/messages"
    _request(spans, "POST /api/conversations")
    search = _request(spans, "GET /api/search")

    # The agent run, its model requests and its tool call: Pydantic AI's gen_ai spans, in the
    # trace of the request that started the reply although the run's task outlived it.
    agent = [s for s in spans if s.scope == "pydantic-ai"]
    (run,) = [s for s in agent if s.name.startswith("invoke_agent")]
    assert run.parent_id == post.span_id
    assert [s.name for s in agent if s.name.startswith("chat ")] == ["chat shouter"] * 2
    (tool,) = [s for s in agent if s.name == "execute_tool shout"]
    assert {s.trace_id for s in agent} == {post.trace_id}
    assert all(s is run or _descends(s, run, spans) for s in agent)
    assert tool.attributes["gen_ai.tool.name"] == "shout"

    # Database statements: the request's own and the run's (saving the reply), by statement.
    statements = [s for s in spans if s.scope == SQLALCHEMY]
    assert all(s.attributes.get("db.statement") for s in statements)
    # None outside a request or a reply: start-up's migrations, the reaper.
    assert all(s.parent_id for s in statements)
    in_reply = [s for s in statements if _descends(s, post, spans)]
    assert any("INSERT" in s.attributes["db.statement"] for s in in_reply)
    assert any(s.trace_id == search.trace_id for s in statements)

    # Content off: not a word of the prompt, the tool's arguments or result, or the reply, in
    # any name, attribute or event of any span; the search's query string keeps its names only.
    for span in spans:
        for text in span.texts():
            assert "periwinkle" not in text.lower(), (span.name, text)
    assert search.attributes["url.query"] == "q=REDACTED"
    assert "tool_arguments" not in tool.attributes
    assert "gen_ai.tool.call.arguments" not in tool.attributes


def test_content_on_puts_prompts_and_replies_in_the_spans(
    settings: Settings, receiver: OtlpReceiver
) -> None:
    spans = _one_reply(settings, receiver, content=True)

    agent = [s for s in spans if s.scope == "pydantic-ai"]
    (tool,) = [s for s in agent if s.name == "execute_tool shout"]
    assert any(PROMPT in text for text in tool.texts())
    assert any(SHOUTED in text for text in tool.texts())
    (run,) = [s for s in agent if s.name.startswith("invoke_agent")]
    assert any(f"Heard: {SHOUTED}" in text for text in run.texts())
    search = _request(spans, "GET /api/search")
    assert "periwinkle" in search.attributes["url.query"]
    # Still never a statement's parameters: what is written is bound, not spliced in.
    statements = [s for s in spans if s.scope == SQLALCHEMY]
    assert statements
    assert not any("periwinkle" in t.lower() for s in statements for t in s.texts())


def test_without_a_receiver_nothing_is_traced() -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", model=None)
    tracing = Tracing.configure(settings, environ={})
    assert not tracing.enabled
    assert tracing.capabilities() == []
    disabled = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true"}
    assert not Tracing.configure(settings, environ=disabled).enabled


def test_mounted_its_background_work_joins_no_request_trace(
    settings: Settings, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mounted without a lifespan, Parley starts with its first request (web/startup.py); the
    reaper it starts then must not add its statements to that request's trace for ever."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")  # nothing shuts this provider down
    parley = create_app(settings.model_copy(update={"run_stale_after": 0.2}), _shouting_agent())
    host = Starlette(routes=[Mount("/chat", app=parley)])
    with TestClient(host, base_url="http://localhost") as client:
        assert client.get("/chat/api/conversations").status_code == 200
        deadline = time.monotonic() + 30
        while not any(s.kind == SERVER for s in receiver.spans()):
            assert time.monotonic() < deadline, "the request's span never came"
            time.sleep(0.05)
        time.sleep(1)  # the reaper looks every 0.1 s
        spans = receiver.spans()
    (first,) = [s for s in spans if s.kind == SERVER]
    assert first.name == "GET /api/conversations"
    later = [s.name for s in spans if s.trace_id == first.trace_id and s.start > first.end]
    assert later == []


# What `logfire.configure()` does, as the operator's code would before `create_app`: a global
# SDK provider. Parley's spans go to it, content still off. In a process of its own, since a
# global provider can be set only once.
_OPERATORS_PROVIDER = """
import json, sys
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic_ai import Agent
from pydantic_ai.models.function import FunctionModel
from parley.app import create_app
from parley.settings import Settings

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

async def stream(messages, info):
    yield "Noted."

settings = Settings(database_url=sys.argv[1], model=None, generate_titles=False)
app = create_app(settings, Agent(FunctionModel(stream_function=stream, model_name="noter")))
with TestClient(app, base_url="http://localhost") as client:
    conversation = client.post("/api/conversations", json={}).json()["id"]
    url = f"/api/conversations/{conversation}/messages"
    with client.stream("POST", url, json={"prompt": sys.argv[2]}) as response:
        response.read()
spans = exporter.get_finished_spans()
found = [[s.name, s.instrumentation_scope.name, json.dumps(dict(s.attributes))] for s in spans]
print(json.dumps(found))
"""


def test_the_operators_own_provider_gets_the_spans(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", _OPERATORS_PROVIDER, sqlite_url(tmp_path / "p.db"), PROMPT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    spans = json.loads(done.stdout.splitlines()[-1])
    names = {name for name, _, _ in spans}
    assert "POST /api/conversations/{conversation_id}/messages" in names
    assert {"invoke_agent agent", "chat noter"} <= names
    assert any(scope == SQLALCHEMY for _, scope, _ in spans)
    assert not any("periwinkle" in attributes for _, _, attributes in spans)
