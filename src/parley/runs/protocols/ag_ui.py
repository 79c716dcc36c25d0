"""AG-UI (protocol 1.0): what a `RunAgentInput` asks of Parley, and a run's events as AG-UI
events.

The thread id is a Parley conversation; the history is Parley's. Of the input only the last
message (a user's prompt) and `resume` (the answers to a paused reply's interrupts) are read:
earlier messages, `state`, `context`, `tools` and `forwardedProps` are ignored, so a client
cannot rewrite the history nor add instructions. Interrupts follow Pydantic AI's AG-UI adapter:
one per tool call waiting for approval, id `int-<tool call id>`, answered by a resume entry
whose payload is `{"approved": bool, "editedArgs"?: {...}, "reason"?: str}`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ag_ui.core import (
    AssistantMessage,
    BaseEvent,
    FunctionCall,
    Interrupt,
    Message,
    MessagesSnapshotEvent,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    ResumeEntry,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedSuccessOutcome,
    RunStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCall,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
    ToolMessage,
    UserMessage,
)
from pydantic import ValidationError

from ...chat import models
from ...chat.approvals import Decision
from ..run import Numbered

PROTOCOL_VERSION = "1.0"
INTERRUPT_PREFIX = "int-"
# What a resume entry's payload may hold: the schema each interrupt advertises.
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "editedArgs": {"type": "object"},
        "reason": {"type": "string"},
    },
    "required": ["approved"],
}


class InvalidInput(ValueError):
    """The input asks nothing Parley can do (a 422 with this message)."""


@dataclass(frozen=True)
class Send:
    prompt: str


@dataclass(frozen=True)
class Resume:
    decisions: list[Decision]


def intent(run_input: RunAgentInput) -> Send | Resume:
    """What the input asks: answers to interrupts (`resume`), else the last message's prompt."""
    if run_input.resume:
        return Resume([_decision(entry) for entry in run_input.resume])
    if not run_input.messages:
        raise InvalidInput("The input holds no message.")
    last = run_input.messages[-1]
    if last.role != "user":
        raise InvalidInput("The last message must be the user's.")
    content = last.content
    if isinstance(content, str):
        return Send(content)
    texts = [getattr(part, "text", None) for part in content]
    if any(text is None for text in texts):
        raise InvalidInput("Only text is taken in a message; upload files with POST /api/files.")
    return Send("\n\n".join(t for t in texts if t is not None))


def _decision(entry: ResumeEntry) -> Decision:
    if not entry.interrupt_id.startswith(INTERRUPT_PREFIX):
        raise InvalidInput(f"No such interrupt: {entry.interrupt_id[:100]}.")
    call = entry.interrupt_id.removeprefix(INTERRUPT_PREFIX)
    if entry.status == "cancelled":
        return _checked(call, approve=False, reason="Cancelled by the user.")
    payload = entry.payload
    approved = payload.get("approved") if isinstance(payload, dict) else None
    # Strictly a boolean: "true" or 1 must not run a tool that asks first.
    if not isinstance(approved, bool):
        raise InvalidInput("A resume payload's `approved` must be true or false.")
    assert isinstance(payload, dict)
    args = payload.get("editedArgs")
    reason = payload.get("reason")
    return _checked(
        call,
        approve=approved,
        args=args if approved and isinstance(args, dict) else None,
        reason=reason if not approved and isinstance(reason, str) and reason else None,
    )


def _checked(call: str, **decision: Any) -> Decision:
    try:
        return Decision(tool_call_id=call, **decision)
    except ValidationError:
        raise InvalidInput("A resume entry does not fit its tool call.") from None


@dataclass
class EventStream:
    """One run's Parley events as AG-UI events, for the client's `threadId` and `runId`."""

    thread_id: str
    run_id: str
    # Whether the client declared AG-UI 1.0 (`protocolVersion`): only such a client is sent
    # the `cancelled` outcome, which older clients' schemas reject.
    cancelled_outcome: bool = False
    # The thread as Parley has it before this run (`messages`): sent as a MESSAGES_SNAPSHOT
    # after RUN_STARTED, with the run's prompt, so the client's messages are the server's.
    history: list[Message] = field(default_factory=list[Message])
    _message_id: str = ""
    _parts: int = 0
    _text: str | None = None
    _reasoning: str | None = None
    _calls: dict[str, tuple[str, str]] = field(default_factory=dict[str, tuple[str, str]])
    _waiting: list[str] = field(default_factory=list[str])
    _failed: bool = False
    _prompt: Message | None = None
    # Tool calls of the reply before this run (it resumes after approvals).
    _known: set[str] = field(default_factory=set[str])

    def feed(self, name: str, data: dict[str, Any]) -> list[BaseEvent]:
        if self._failed:
            return []  # RUN_ERROR ends a run: nothing may follow it
        if name == "user":
            message = data["message"]
            self._prompt = UserMessage(id=message["id"], content=message.get("text", ""))
            return []
        if name == "start":
            self._message_id = data["message"]["id"]
            self._known = {
                p["tool_call_id"]
                for p in data["message"].get("parts", [])
                if p["type"] == "tool_call"
            }
            parley = {
                "conversationId": self.thread_id,
                "messageId": self._message_id,
                "runId": data.get("run_id"),
            }
            return [
                RunStartedEvent(
                    thread_id=self.thread_id,
                    run_id=self.run_id,
                    protocol_version=PROTOCOL_VERSION,
                    metadata={"parley": parley},
                ),
                MessagesSnapshotEvent(
                    messages=[*self.history, *([self._prompt] if self._prompt else [])]
                ),
            ]
        if name == "text":
            return [
                *self._open_text(),
                TextMessageContentEvent(message_id=self._text or "", delta=data["d"]),
            ]
        if name == "thinking":
            return [
                *self._open_reasoning(),
                ReasoningMessageContentEvent(message_id=self._reasoning or "", delta=data["d"]),
            ]
        if name == "tool_call":
            call, tool, args = data["tool_call_id"], data["tool_name"], data.get("args") or "{}"
            self._calls[call] = (tool, args)
            if call in self._known:
                return []  # a call approved earlier, run now: the client has it
            return [
                *self.close(),
                ToolCallStartEvent(
                    tool_call_id=call, tool_call_name=tool, parent_message_id=self._message_id
                ),
                ToolCallArgsEvent(tool_call_id=call, delta=args),
                ToolCallEndEvent(tool_call_id=call),
            ]
        if name == "tool_result":
            return [
                *self.close(),
                ToolCallResultEvent(
                    message_id=self._next_id("tool"),
                    tool_call_id=data["tool_call_id"],
                    content=data.get("content", ""),
                    role="tool",
                ),
            ]
        if name == "deferred":
            self._waiting += data["tool_call_ids"]
            return self.close()
        if name == "error":
            self._failed = True
            return [*self.close(), RunErrorEvent(message=data.get("detail") or "The reply failed.")]
        if name == "done":
            return [*self.close(), self._finished(data.get("status", "error"))]
        return []  # "block" (HTML), "file" (bytes in the model's messages)

    def close(self) -> list[BaseEvent]:
        out: list[BaseEvent] = []
        if self._text is not None:
            out.append(TextMessageEndEvent(message_id=self._text))
            self._text = None
        if self._reasoning is not None:
            out += [
                ReasoningMessageEndEvent(message_id=self._reasoning),
                ReasoningEndEvent(message_id=self._reasoning),
            ]
            self._reasoning = None
        return out

    def _finished(self, status: str) -> BaseEvent:
        if status == "error":
            # A reply that failed without an `error` event (its save failed).
            self._failed = True
            return RunErrorEvent(message="The reply failed.")
        outcome: Any = RunFinishedSuccessOutcome()
        if status == "awaiting_approval" and self._waiting:
            outcome = RunFinishedInterruptOutcome(
                interrupts=[self._interrupt(i) for i in self._waiting]
            )
        elif status in ("stopped", "interrupted"):
            outcome = RunFinishedCancelledOutcome() if self.cancelled_outcome else None
        return RunFinishedEvent(thread_id=self.thread_id, run_id=self.run_id, outcome=outcome)

    def _interrupt(self, call: str) -> Interrupt:
        tool, args = self._calls.get(call, ("a tool", "{}"))
        return Interrupt(
            id=f"{INTERRUPT_PREFIX}{call}",
            reason="tool_call",
            tool_call_id=call,
            message=f"Approve {tool}({args})?",
            response_schema=dict(RESPONSE_SCHEMA),
        )

    def _open_text(self) -> list[BaseEvent]:
        if self._text is not None:
            return []
        out = self.close()
        self._text = self._next_id("text")
        return [*out, TextMessageStartEvent(message_id=self._text, role="assistant")]

    def _open_reasoning(self) -> list[BaseEvent]:
        if self._reasoning is not None:
            return []
        out = self.close()
        self._reasoning = self._next_id("reasoning")
        return [
            *out,
            ReasoningStartEvent(message_id=self._reasoning),
            ReasoningMessageStartEvent(message_id=self._reasoning, role="reasoning"),
        ]

    def _next_id(self, kind: str) -> str:
        self._parts += 1
        return f"{self._message_id}-{kind}-{self._parts}"


def declares_1_0(run_input: RunAgentInput) -> bool:
    """Whether the client speaks AG-UI 1.0 or later (`protocolVersion` "MAJOR.MINOR")."""
    found = re.fullmatch(r"(\d+)\.(\d+)", run_input.protocol_version or "")
    return found is not None and (int(found[1]), int(found[2])) >= (1, 0)


def encode(events: Sequence[BaseEvent]) -> bytes:
    """Server-Sent Events, as ag_ui's `EventEncoder` writes them."""
    return "".join(f"data: {e.model_dump_json(by_alias=True)}\n\n" for e in events).encode()


async def frames(
    batches: AsyncIterator[list[Numbered]], stream: EventStream
) -> AsyncIterator[bytes]:
    """A run's event batches as the response body; an empty batch becomes a keep-alive."""
    async for batch in batches:
        if not batch:
            yield b": keep-alive\n\n"
            continue
        events = [event for _, name, data in batch for event in stream.feed(name, data)]
        if events:
            yield encode(events)


def messages(branch: Sequence[models.Message]) -> list[Message]:
    """A branch as AG-UI messages: a prompt a user message; a reply an assistant message (its
    text, its tool calls) and a tool message per result. A reply being generated is left out."""
    out: list[Message] = []
    for message in branch:
        if message.role == "user":
            out.append(UserMessage(id=message.id, content=message.text))
        elif message.status != "generating":
            out += _reply(message)
    return out


def _reply(message: models.Message) -> list[Message]:
    texts = [p.text for p in message.parts if isinstance(p, models.TextPart)]
    calls: dict[str, ToolCall] = {}
    results: list[Message] = []
    for part in message.parts:
        if isinstance(part, models.ToolCallPart) and part.tool_call_id not in calls:
            function = FunctionCall(name=part.tool_name, arguments=part.args or "{}")
            calls[part.tool_call_id] = ToolCall(id=part.tool_call_id, function=function)
        elif isinstance(part, models.ToolResultPart):
            results.append(
                ToolMessage(
                    id=f"{message.id}-result-{len(results) + 1}",
                    tool_call_id=part.tool_call_id,
                    content=part.content,
                )
            )
    reply = AssistantMessage(
        id=message.id,
        content="\n\n".join(texts) or None,
        tool_calls=list(calls.values()) or None,
    )
    return [reply, *results]
