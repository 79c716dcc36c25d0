"""How a reply was made, timed for the Inspect view (chat/inspect.py shows it).

`Timings` records, for one run of a reply: each model request (its wall-clock start, the time
to its first streamed event, its duration, the model that answered and the tokens it reported),
through `Timed`, a Pydantic AI `WrapperModel` around the run's model; and each function tool
call (start and duration, by `tool_call_id`), from the run's `FunctionToolCallEvent` and
`FunctionToolResultEvent` as the event stream hands them over. That stream has no buffer (the
run waits for the consumer at each event), so a tool's duration is its execution as the reply's
reader saw it, within one event's handling.

Durations come from a monotonic clock (`time.perf_counter`, the clock of Pydantic AI's own time
to first chunk), starts from the wall clock. Whatever ends the run (a stop, an error, a timeout,
a pause for approval) the timings so far are saved with the reply; a resumed reply appends to
the earlier ones. Memory and the stored JSON are bounded: at most `MAX_REQUESTS` requests and
`MAX_TOOL_CALLS` tool calls per reply, the rest only counted.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic_ai.exceptions import RunCancelled
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelResponse,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext
from pydantic_ai.usage import RequestUsage

from ..chat.inspect import (
    Outcome,
    RequestTiming,
    RunTiming,
    StoredTimings,
    ToolTiming,
    read_timings,
)
from ..chat.models import Status
from ..db.clock import now

__all__ = ["MAX_REQUESTS", "MAX_TOOL_CALLS", "Timed", "Timings"]

MAX_REQUESTS = 200
MAX_TOOL_CALLS = 500
# A bound of its own on the runs of one reply (each pause for approval starts another).
MAX_RUNS = 100

E = TypeVar("E")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


class Timings:
    """The timings of one reply: the earlier runs' (a resumed reply) and this run's."""

    def __init__(self, earlier: Any = None) -> None:
        stored = read_timings(earlier) or StoredTimings()
        self.stored = stored
        self.run = len(stored.runs)
        self._started = time.perf_counter()
        self._run: RunTiming | None = None
        if len(stored.runs) < MAX_RUNS:
            self._run = RunTiming(started_at=now())
            stored.runs.append(self._run)
        # What has started and not ended: a request (at most one at a time in a run, but
        # nothing here relies on it) and tool calls by id, each with its monotonic start.
        self._requests: dict[int, tuple[RequestTiming, float]] = {}
        self._tools: dict[str, tuple[ToolTiming, float]] = {}

    def model(self, wrapped: Model) -> Timed:
        """`wrapped`, timing each request it serves into these timings."""
        return Timed(wrapped, self)

    def events(self, events: AsyncIterable[E]) -> AsyncIterator[E]:
        """The run's events, unchanged, noting each tool call's start and end on the way."""
        return _Observed(events, self)

    # -- model requests ------------------------------------------------------------------

    def request_started(self, *, streamed: bool) -> int | None:
        """Note a request starting; its key for `request_ended`, None past the bound."""
        if len(self.stored.requests) >= MAX_REQUESTS:
            self.stored.dropped_requests += 1
            return None
        entry = RequestTiming(run=self.run, started_at=now(), streamed=streamed)
        self.stored.requests.append(entry)
        key = id(entry)
        self._requests[key] = (entry, time.perf_counter())
        return key

    def request_ended(
        self,
        key: int | None,
        *,
        outcome: Outcome,
        first_event: float | None = None,
        model_name: str | None = None,
        response_at: datetime | None = None,
        usage: RequestUsage | None = None,
        error: BaseException | None = None,
    ) -> None:
        """Note a request's end: `first_event`, the `time.perf_counter()` of its first event."""
        if key is None or key not in self._requests:
            return
        entry, started = self._requests.pop(key)
        entry.duration_ms = _ms(time.perf_counter() - started)
        if first_event is not None:
            entry.first_token_ms = _ms(max(0.0, first_event - started))
        entry.outcome = outcome
        entry.model = model_name or None
        entry.response_at = response_at
        if usage is not None and (usage.input_tokens or usage.output_tokens):
            entry.input_tokens = usage.input_tokens
            entry.output_tokens = usage.output_tokens
            entry.cache_read_tokens = usage.cache_read_tokens or None
        if error is not None:
            # The kind of failure only: the reply's error says what it was, in words.
            entry.error = type(error).__name__

    # -- tool calls ----------------------------------------------------------------------

    def observe(self, event: object) -> None:
        if isinstance(event, FunctionToolCallEvent):
            call = event.part
            if call.tool_call_id in self._tools:
                return
            if len(self.stored.tool_calls) >= MAX_TOOL_CALLS:
                self.stored.dropped_tool_calls += 1
                return
            entry = ToolTiming(
                run=self.run, id=call.tool_call_id, name=call.tool_name, started_at=now()
            )
            self.stored.tool_calls.append(entry)
            self._tools[call.tool_call_id] = (entry, time.perf_counter())
        elif isinstance(event, FunctionToolResultEvent):
            found = self._tools.pop(event.part.tool_call_id, None)
            if found is not None:
                entry, started = found
                entry.duration_ms = _ms(time.perf_counter() - started)

    # -- the end -------------------------------------------------------------------------

    def dump(self, status: Status) -> dict[str, Any]:
        """The timings as stored (messages.timings), this run ending as `status`. A request
        still open (the run was cut short around it) counts up to now and stays
        `unfinished`; a tool call still open (waiting for approval, or cut short) has no
        duration."""
        end = time.perf_counter()
        for entry, started in self._requests.values():
            entry.duration_ms = _ms(end - started)
        if self._run is not None:
            self._run.duration_ms = _ms(end - self._started)
            self._run.status = status
        return self.stored.model_dump(mode="json", exclude_none=True)


class _Observed(Generic[E]):
    """An event stream passed through `Timings.observe` (a plain iterator rather than an
    async generator: nothing is left to finalize if its consumer is cancelled)."""

    def __init__(self, events: AsyncIterable[E], timings: Timings) -> None:
        self._events = aiter(events)
        self._timings = timings

    def __aiter__(self) -> _Observed[E]:
        return self

    async def __anext__(self) -> E:
        event = await anext(self._events)
        self._timings.observe(event)
        return event


def _outcome(exc: BaseException) -> Outcome:
    """A request that raised: it failed, or was cut short (a stop, a timeout, the task
    cancelled)."""
    if isinstance(exc, Exception) and not isinstance(exc, RunCancelled):
        return "error"
    return "cancelled"


class Timed(WrapperModel):
    """`wrapped`, timing every request it serves into `timings`."""

    def __init__(self, wrapped: Model, timings: Timings) -> None:
        super().__init__(wrapped)
        self.timings = timings

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        key = self.timings.request_started(streamed=False)
        try:
            response = await super().request(messages, model_settings, model_request_parameters)
        except BaseException as exc:
            self.timings.request_ended(key, outcome=_outcome(exc), error=exc)
            raise
        self.timings.request_ended(
            key,
            outcome="complete",
            model_name=response.model_name,
            response_at=response.timestamp,
            usage=response.usage,
        )
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        key = self.timings.request_started(streamed=True)
        stream: StreamedResponse | None = None
        try:
            async with super().request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as stream:
                yield stream
        except BaseException as exc:
            self._ended(key, stream, _outcome(exc), exc)
            raise
        self._ended(key, stream, "cancelled" if stream.cancelled else "complete", None)

    def _ended(
        self,
        key: int | None,
        stream: StreamedResponse | None,
        outcome: Outcome,
        error: BaseException | None,
    ) -> None:
        if stream is None:
            self.timings.request_ended(key, outcome=outcome, error=error)
            return
        try:
            # Pydantic AI stamps `time.perf_counter()` on the first event the stream surfaces;
            # measured from 0 it is that reading itself.
            first = stream.time_to_first_chunk(0.0)
            self.timings.request_ended(
                key,
                outcome=outcome,
                first_event=first,
                model_name=stream.model_name,
                response_at=stream.timestamp,
                usage=stream.usage,
                error=error,
            )
        except Exception:
            # A stream that cannot say more (a model of the user's own): its times suffice.
            self.timings.request_ended(key, outcome=outcome, error=error)
