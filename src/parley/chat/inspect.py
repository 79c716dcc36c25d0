"""Inspecting a reply: what a developer needs to debug an agent, gathered for one of an owner's
replies (the Inspect view; `GET …/messages/{id}/inspect`).

Everything comes from what the reply stored: Pydantic AI's own messages of its turn (the user's
request, kept on the prompt's row, and the responses and tool returns, on the reply's), its
usage, and its timings (`messages.timings`, written by runs/timings.py in the shape defined
here). From them: the model and the instructions; each model request with its timing joined to
the `ModelResponse` it produced (by the response's timestamp, which the timings note); each tool
call with its arguments, result and duration; the usage; and the turn's messages as JSON.
A reply saved before timings were recorded shows all of it but the times.

Nothing here trusts the stored JSON's shape: timings that do not validate count as not
recorded, and messages Pydantic AI cannot load still come back raw. The work is linear in the
size of the turn; long arguments and results are cut for display (the raw JSON keeps them).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_ai.messages import (
    BaseToolCallPart,
    BaseToolReturnPart,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    NativeToolCallPart,
    SystemPromptPart,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from ..db.clock import as_utc
from ..db.tables import conversations, messages
from .models import ToolCallPart, Usage
from .rows import owned
from .tree import load_tree

# What the view shows of a tool's arguments or result; the raw messages hold all of it.
DISPLAY_CHARS = 4000

# -- The timings as stored (messages.timings) ------------------------------------------------


class _Stored(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RunTiming(_Stored):
    """One run of a reply: the first, then one more after each pause for approval."""

    started_at: datetime
    duration_ms: float | None = None
    status: str | None = None


# How a model request ended: complete; error (`error` names the exception's type); cancelled
# (a stop, a timeout); unfinished (the run ended around it).
Outcome = Literal["complete", "error", "cancelled", "unfinished"]


class RequestTiming(_Stored):
    """One model request: `first_token_ms` from its start to the first streamed event."""

    run: int = 0
    started_at: datetime
    first_token_ms: float | None = None
    duration_ms: float | None = None
    streamed: bool = True
    # What the provider reported: the model's name, the response's timestamp (which joins
    # it to its ModelResponse), the tokens.
    model: str | None = None
    response_at: datetime | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    outcome: Outcome = "unfinished"
    error: str | None = None


class ToolTiming(_Stored):
    """One function tool call: no duration if it did not finish in its run (it waited for
    approval, or the run was cut short)."""

    run: int = 0
    id: str
    name: str
    started_at: datetime
    duration_ms: float | None = None


class StoredTimings(_Stored):
    version: int = 1
    runs: list[RunTiming] = Field(default_factory=list)
    requests: list[RequestTiming] = Field(default_factory=list)
    tool_calls: list[ToolTiming] = Field(default_factory=list)
    # How many were not recorded, past the bounds.
    dropped_requests: int = 0
    dropped_tool_calls: int = 0


def read_timings(value: Any) -> StoredTimings | None:
    """Stored timings, or None if there are none (a reply from before they were recorded) or
    they are not in a shape this version reads."""
    if not isinstance(value, dict):
        return None
    try:
        return StoredTimings.model_validate(value)
    except ValidationError:
        return None


# -- What the Inspect view shows -------------------------------------------------------------


class InspectedRequest(BaseModel):
    """A model request: its timing (when recorded) and what its response reported."""

    number: int
    run: int = 0
    model: str | None = None
    provider: str | None = None
    started_at: datetime | None = None
    first_token_ms: float | None = None
    duration_ms: float | None = None
    streamed: bool | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    finish_reason: str | None = None
    # The timing's outcome (complete, error, cancelled, unfinished), else the response's state.
    outcome: str | None = None
    error: str | None = None
    # Whether it has a stored response (a request that failed has none).
    responded: bool = True


class InspectedToolCall(BaseModel):
    """A tool call, its result and how long it ran. `args` and `result` are cut at
    DISPLAY_CHARS characters (`*_chars` the whole length); the raw messages hold all."""

    id: str
    name: str
    args: str
    args_chars: int
    args_truncated: bool = False
    result: str | None = None
    result_chars: int | None = None
    result_truncated: bool = False
    # success, failed, denied, interrupted, retried (Pydantic AI's outcome); None: no result.
    outcome: str | None = None
    # A tool the provider ran itself (web search…), which Parley cannot time.
    native: bool = False
    # The user's answer, for a call that asked first: pending, approved, denied, not_run.
    approval: str | None = None
    started_at: datetime | None = None
    duration_ms: float | None = None
    run: int | None = None


class InspectedUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None
    requests: int = 0
    tool_calls: int = 0


class Inspection(BaseModel):
    """One reply, inspected."""

    message_id: str
    conversation_id: str
    status: str
    error: str | None = None
    created_at: datetime
    # The model Parley asked for (the conversation's choice), and those that answered.
    model: str | None = None
    response_models: list[str] = Field(default_factory=list)
    # Each distinct `ModelRequest.instructions` of the turn, in order; the system prompts
    # (this turn's, else those the conversation began with on this branch).
    instructions: list[str] = Field(default_factory=list)
    system_prompts: list[str] = Field(default_factory=list)
    # False for a reply saved before timings were recorded: then no times are known.
    timings_recorded: bool = False
    runs: list[RunTiming] = Field(default_factory=list)
    requests: list[InspectedRequest] = Field(default_factory=list)
    tool_calls: list[InspectedToolCall] = Field(default_factory=list)
    dropped_requests: int = 0
    dropped_tool_calls: int = 0
    usage: InspectedUsage
    # The turn's Pydantic AI messages (ModelMessagesTypeAdapter JSON): the user's request,
    # then what the run added. Attached files' bytes are left out (a reference remains).
    messages: list[Any]
    # Set when the stored messages do not load as Pydantic AI messages (then only `messages`
    # shows them).
    messages_error: str | None = None


# -- Gathering -------------------------------------------------------------------------------


async def inspect_reply(
    engine: AsyncEngine, owner: str, conversation_id: str, message_id: str
) -> Inspection | None:
    """The owner's reply `message_id`, inspected; None if it is not the owner's, not in that
    conversation, or not a reply."""
    m = messages.c
    query = (
        sa.select(messages)
        .join(conversations, conversations.c.id == m.conversation_id)
        .where(owned(owner, conversation_id), m.id == message_id)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).mappings().first()
        if row is None or row["role"] != "assistant":
            return None
        prompt = (
            await conn.execute(
                sa.select(m.id, m.model_messages).where(
                    m.id == row["parent_id"], m.conversation_id == conversation_id
                )
            )
        ).first()
        raw, request, error = _load(prompt.model_messages if prompt is not None else "[]")
        raw_reply, reply, reply_error = _load(row["model_messages"])
        raw, turn, error = [*raw, *raw_reply], [*request, *reply], error or reply_error
        system = _system_prompts(turn)
        if not system and prompt is not None and turn:
            # The system prompt goes with a conversation's first request only: an answer
            # later on the branch was sent the one the branch began with.
            root = (await load_tree(conn, conversation_id)).branch(prompt.id)[:1]
            if root and root[0] != prompt.id:
                first = await conn.scalar(sa.select(m.model_messages).where(m.id == root[0]))
                system = _system_prompts(_load(first or "[]")[1])
    timings = read_timings(row["timings"])
    requests = _requests(reply, timings)
    calls = _tool_calls(reply, timings, row["parts"])
    usage = Usage.model_validate(row["usage"]) if row["usage"] else Usage()
    return Inspection(
        message_id=row["id"],
        conversation_id=row["conversation_id"],
        status=row["status"],
        error=row["error"],
        created_at=as_utc(row["created_at"]),
        model=row["model"],
        response_models=_distinct(r.model_name for r in reply if isinstance(r, ModelResponse)),
        instructions=_distinct(r.instructions for r in turn if isinstance(r, ModelRequest)),
        system_prompts=system,
        timings_recorded=timings is not None,
        runs=timings.runs if timings else [],
        requests=requests,
        tool_calls=calls,
        dropped_requests=timings.dropped_requests if timings else 0,
        dropped_tool_calls=timings.dropped_tool_calls if timings else 0,
        usage=InspectedUsage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost=usage.cost,
            requests=sum(r.responded for r in requests),
            tool_calls=len(calls),
        ),
        messages=raw,
        messages_error=error,
    )


def _load(stored: str) -> tuple[list[Any], list[ModelMessage], str | None]:
    """A stored array of messages: its JSON, and its Pydantic AI messages (none if they do
    not load, with why)."""
    try:
        value = json.loads(stored or "[]")
    except ValueError:
        return [], [], "The stored messages are not JSON."
    raw: list[Any] = value if isinstance(value, list) else []
    try:
        return raw, ModelMessagesTypeAdapter.validate_python(raw), None
    except ValidationError as exc:
        return raw, [], f"The stored messages do not load as Pydantic AI messages: {exc.title}."


def _distinct(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _system_prompts(turn: Sequence[ModelMessage]) -> list[str]:
    return _distinct(
        part.content
        for message in turn
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, SystemPromptPart)
    )


def _requests(
    reply: Sequence[ModelMessage], timings: StoredTimings | None
) -> list[InspectedRequest]:
    """Each model request, in the order made: the timings joined to the responses by the
    response's timestamp. A timing without a response is a request that failed (or whose
    empty response was not kept); a response without a timing, one from before timings."""
    responses = [r for r in reply if isinstance(r, ModelResponse)]
    by_time: dict[datetime, list[int]] = {}
    for index, response in enumerate(responses):
        by_time.setdefault(as_utc(response.timestamp), []).append(index)
    matched: set[int] = set()
    rows: list[tuple[int, datetime, InspectedRequest]] = []
    for timing in timings.requests if timings else []:
        found = by_time.get(as_utc(timing.response_at)) if timing.response_at else None
        joined = found.pop(0) if found else None
        answer = responses[joined] if joined is not None else None
        if joined is not None:
            matched.add(joined)
        item = _request(answer)
        item.run = timing.run
        item.started_at = timing.started_at
        item.first_token_ms = timing.first_token_ms
        item.duration_ms = timing.duration_ms
        item.streamed = timing.streamed
        item.outcome = timing.outcome
        item.error = timing.error
        item.model = item.model or timing.model
        if answer is None:
            item.input_tokens = timing.input_tokens
            item.output_tokens = timing.output_tokens
            item.cache_read_tokens = timing.cache_read_tokens
        rows.append((timing.run, as_utc(timing.started_at), item))
    # A response no timing names (saved before timings were, or its request's timing past
    # the bound) goes where its timestamp puts it, in the run that had begun by then.
    starts = [as_utc(run.started_at) for run in timings.runs] if timings else []
    for index, response in enumerate(responses):
        if index not in matched:
            at = as_utc(response.timestamp)
            item = _request(response)
            item.run = max(0, bisect_right(starts, at) - 1)
            rows.append((item.run, at, item))
    rows.sort(key=lambda r: (r[0], r[1]))
    items = [item for _, _, item in rows]
    for number, item in enumerate(items, 1):
        item.number = number
    return items


def _request(response: ModelResponse | None) -> InspectedRequest:
    if response is None:
        return InspectedRequest(number=0, responded=False)
    usage = response.usage
    return InspectedRequest(
        number=0,
        model=response.model_name,
        provider=response.provider_name,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens or None,
        finish_reason=response.finish_reason,
        outcome=response.state,
    )


def _clip(text: str) -> tuple[str, int, bool]:
    return text[:DISPLAY_CHARS], len(text), len(text) > DISPLAY_CHARS


def _tool_calls(
    reply: Sequence[ModelMessage], timings: StoredTimings | None, parts: Any
) -> list[InspectedToolCall]:
    """Each tool call of the reply, in the order the model made them, with its result (the
    last, if it was answered more than once) and its timing (the last that finished)."""
    timed: dict[str, ToolTiming] = {}
    for timing in timings.tool_calls if timings else []:
        if timing.duration_ms is not None or timing.id not in timed:
            timed[timing.id] = timing
    approvals = _approvals(parts)
    results: dict[str, tuple[str, str | None]] = {}
    calls: list[InspectedToolCall] = []
    for message in reply:
        for part in message.parts:
            if isinstance(part, BaseToolCallPart):
                args, args_chars, args_cut = _clip(part.args_as_json_str())
                calls.append(
                    InspectedToolCall(
                        id=part.tool_call_id,
                        name=part.tool_name,
                        args=args,
                        args_chars=args_chars,
                        args_truncated=args_cut,
                        native=isinstance(part, NativeToolCallPart),
                        approval=approvals.get(part.tool_call_id),
                    )
                )
            elif isinstance(part, BaseToolReturnPart):
                results[part.tool_call_id] = (part.model_response_str(), part.outcome)
    for call in calls:
        if (result := results.get(call.id)) is not None:
            call.result, call.result_chars, call.result_truncated = _clip(result[0])
            call.outcome = result[1]
        if (took := timed.get(call.id)) is not None:
            call.started_at, call.duration_ms, call.run = (
                took.started_at,
                took.duration_ms,
                took.run,
            )
    return calls


def _approvals(parts: Any) -> dict[str, str]:
    """The user's answer on each tool call part that asked for one."""
    found: dict[str, str] = {}
    for part in parts if isinstance(parts, list) else []:
        try:
            call = ToolCallPart.model_validate(part)
        except ValidationError:
            continue
        if call.approval is not None:
            found[call.tool_call_id] = call.approval.state
    return found


__all__ = [
    "DISPLAY_CHARS",
    "InspectedRequest",
    "InspectedToolCall",
    "InspectedUsage",
    "Inspection",
    "Outcome",
    "RequestTiming",
    "RunTiming",
    "StoredTimings",
    "ToolTiming",
    "inspect_reply",
    "read_timings",
]
