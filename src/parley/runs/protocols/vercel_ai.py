"""The Vercel AI SDK's UI message stream (v6): what a `useChat` request asks of Parley, a run's
events as stream chunks, and Parley's messages as `UIMessage`s.

The history is Parley's: of the messages `useChat` sends, only the last is read (a prompt, or
the approvals answered on the reply it ends with); everything before it (earlier turns, a
`system` message, edited replies) is ignored, so a client cannot rewrite what the model was
told. The chunks are Pydantic AI's models (`pydantic_ai.ui.vercel_ai.response_types`), encoded
as its `VercelAIEventStream` encodes them for SDK v6.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_ai.ui.vercel_ai.response_types import (
    AbortChunk,
    BaseChunk,
    DoneChunk,
    ErrorChunk,
    FinishChunk,
    FinishReason,
    FinishStepChunk,
    MessageMetadataChunk,
    ReasoningDeltaChunk,
    ReasoningEndChunk,
    ReasoningStartChunk,
    StartChunk,
    StartStepChunk,
    TextDeltaChunk,
    TextEndChunk,
    TextStartChunk,
    ToolApprovalRequestChunk,
    ToolInputAvailableChunk,
    ToolOutputAvailableChunk,
    ToolOutputDeniedChunk,
)

from ...chat import models
from ...chat.approvals import Decision
from ..run import Numbered

SDK_VERSION = 6
# A file part's URL that names one of the caller's uploads (POST /api/files).
_FILE_URL = re.compile(r"(?:^|/)api/files/([A-Za-z0-9_-]{1,64})$")
_FINISH: dict[str, FinishReason] = {
    "complete": "stop",
    "awaiting_approval": "tool-calls",
    "error": "error",
}


class InvalidRequest(ValueError):
    """The request asks nothing Parley can do (a 422 with this message)."""


class UIMessageIn(BaseModel):
    """A `UIMessage` as `useChat` sends it: only its role, id and parts are read."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(default="", max_length=200)
    role: Literal["system", "user", "assistant"]
    parts: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]], max_length=1000)


class ChatRequest(BaseModel):
    """The body `useChat`'s `DefaultChatTransport` posts (`{id, messages, trigger, messageId}`).

    `id` is the chat id, which must be a Parley conversation of the caller's: create it with
    `POST /api/conversations` and give its id to `useChat({id})`.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(max_length=200)
    messages: list[UIMessageIn] = Field(min_length=1, max_length=10_000)
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    message_id: str | None = Field(default=None, alias="messageId", max_length=200)


@dataclass(frozen=True)
class Send:
    prompt: str
    files: list[str]


@dataclass(frozen=True)
class Regenerate:
    # The reply to answer again; None: the last reply of the branch.
    message_id: str | None


@dataclass(frozen=True)
class Answer:
    message_id: str
    decisions: list[Decision]


def intent(request: ChatRequest) -> Send | Regenerate | Answer:
    """What the request asks, from its trigger and its last message alone."""
    if request.trigger == "regenerate-message":
        return Regenerate(request.message_id)
    last = request.messages[-1]
    if last.role == "assistant":
        decisions = _decisions(last.parts)
        if not decisions:
            raise InvalidRequest("The last message answers no tool call.")
        return Answer(last.id, decisions)
    if last.role != "user":
        raise InvalidRequest("The last message must be the user's.")
    texts: list[str] = []
    files: list[str] = []
    for part in last.parts:
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "file":
            found = _FILE_URL.search(str(part.get("url", "")))
            if found is None:
                raise InvalidRequest(
                    "Upload a file with POST /api/files first and send its URL (/api/files/…)."
                )
            files.append(found.group(1))
    return Send("\n\n".join(texts), files)


def _decisions(parts: Sequence[dict[str, Any]]) -> list[Decision]:
    decisions: list[Decision] = []
    for part in parts:
        approval = part.get("approval")
        if part.get("state") != "approval-responded" or not isinstance(approval, dict):
            continue
        approved = approval.get("approved")
        # Strictly a boolean: "true" or 1 must not run a tool that asks first.
        if not isinstance(approved, bool):
            raise InvalidRequest("An approval's `approved` must be true or false.")
        reason = approval.get("reason")
        try:
            decisions.append(
                Decision(
                    tool_call_id=str(part.get("toolCallId", "")),
                    approve=approved,
                    reason=reason if isinstance(reason, str) and not approved else None,
                )
            )
        except ValidationError:
            raise InvalidRequest("An approval does not fit its tool call.") from None
    return decisions


def _metadata(message_id: str, conversation_id: str, **more: Any) -> dict[str, Any]:
    return {"parley": {"conversationId": conversation_id, "messageId": message_id, **more}}


def _input(args: str) -> Any:
    try:
        return json.loads(args) if args else {}
    except ValueError:
        return args


class UIMessageStream:
    """One run's Parley events as UI message stream chunks.

    Part ids are numbered within the reply, so a reattach that replays the run from its first
    event gives the same chunks.
    """

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        # The reply's parts from before this run, to send after `start` (a reattach).
        self.earlier: list[models.Part] = []
        self._message_id = ""
        self._run_id = ""
        self._parts = 0
        self._text: str | None = None
        self._reasoning: str | None = None
        self._denied: set[str] = set()
        # Tool calls of the reply before this run (it resumes after approvals).
        self._known: set[str] = set()

    def feed(self, name: str, data: dict[str, Any]) -> list[BaseChunk]:
        if name == "start":
            return self._start(data)
        if name == "text":
            return [*self._open_text(), TextDeltaChunk(id=self._text or "", delta=data["d"])]
        if name == "thinking":
            return [
                *self._open_reasoning(),
                ReasoningDeltaChunk(id=self._reasoning or "", delta=data["d"]),
            ]
        if name == "tool_call":
            if data["tool_call_id"] in self._known:
                return []  # a call approved earlier, run now: the client has its part
            return [
                *self.close(),
                ToolInputAvailableChunk(
                    tool_call_id=data["tool_call_id"],
                    tool_name=data["tool_name"],
                    input=_input(data.get("args", "")),
                    provider_executed=True if data.get("native") else None,
                ),
            ]
        if name == "tool_result":
            return [*self.close(), self._result(data)]
        if name == "deferred":
            return [
                *self.close(),
                *(
                    ToolApprovalRequestChunk(approval_id=i, tool_call_id=i)
                    for i in data["tool_call_ids"]
                ),
            ]
        if name == "error":
            return [*self.close(), ErrorChunk(error_text=data.get("detail") or "The reply failed.")]
        if name == "done":
            return self._done(data)
        # "user" (the prompt, which the client shows already), "block" (rendered HTML, which
        # this protocol has no place for), "file" (its bytes stay in the model's messages).
        return []

    def close(self) -> list[BaseChunk]:
        out: list[BaseChunk] = []
        if self._text is not None:
            out.append(TextEndChunk(id=self._text))
            self._text = None
        if self._reasoning is not None:
            out.append(ReasoningEndChunk(id=self._reasoning))
            self._reasoning = None
        return out

    def _start(self, data: dict[str, Any]) -> list[BaseChunk]:
        message = data["message"]
        self._message_id = message["id"]
        self._run_id = data.get("run_id", "")
        parts = message.get("parts", [])
        for part in parts:
            if part.get("type") == "tool_call":
                self._known.add(part["tool_call_id"])
                if (part.get("approval") or {}).get("state") == "denied":
                    self._denied.add(part["tool_call_id"])
        out: list[BaseChunk] = [
            StartChunk(
                message_id=self._message_id,
                message_metadata=_metadata(
                    self._message_id, self.conversation_id, runId=self._run_id
                ),
            )
        ]
        if self.earlier:
            known, self._known = self._known, set()
            out += [StartStepChunk(), *self._replay(self.earlier)]
            self._known = known
        elif not parts:
            out.append(StartStepChunk())
        # Else the run goes on with a reply the client has (it answered its approvals): the
        # AI SDK finds the answered tool parts in the current step only, so no new step.
        return out

    def _replay(self, parts: Sequence[models.Part]) -> list[BaseChunk]:
        out: list[BaseChunk] = []
        for part in parts:
            if isinstance(part, models.TextPart):
                out += [*self._open_text(), TextDeltaChunk(id=self._text or "", delta=part.text)]
            elif isinstance(part, models.ThinkingPart):
                out += [
                    *self._open_reasoning(),
                    ReasoningDeltaChunk(id=self._reasoning or "", delta=part.text),
                ]
            elif isinstance(part, models.ToolCallPart | models.ToolResultPart):
                out += self.feed(part.type, part.model_dump())
                approval = part.approval if isinstance(part, models.ToolCallPart) else None
                if approval is not None and approval.state == "pending":
                    out += self.feed("deferred", {"tool_call_ids": [part.tool_call_id]})
        return [*out, *self.close()]

    def _result(self, data: dict[str, Any]) -> BaseChunk:
        if data["tool_call_id"] in self._denied:
            return ToolOutputDeniedChunk(tool_call_id=data["tool_call_id"])
        return ToolOutputAvailableChunk(
            tool_call_id=data["tool_call_id"],
            output=data.get("content", ""),
            provider_executed=True if data.get("native") else None,
        )

    def _open_text(self) -> list[BaseChunk]:
        if self._text is not None:
            return []
        out = self.close()
        self._text = self._next_id("text")
        return [*out, TextStartChunk(id=self._text)]

    def _open_reasoning(self) -> list[BaseChunk]:
        if self._reasoning is not None:
            return []
        out = self.close()
        self._reasoning = self._next_id("reasoning")
        return [*out, ReasoningStartChunk(id=self._reasoning)]

    def _next_id(self, kind: str) -> str:
        self._parts += 1
        return f"{self._message_id}-{kind}-{self._parts}"

    def _done(self, data: dict[str, Any]) -> list[BaseChunk]:
        status = data.get("status", "error")
        metadata = _metadata(
            self._message_id,
            self.conversation_id,
            runId=self._run_id,
            status=status,
            error=data.get("error"),
            model=data.get("model"),
            usage=data.get("usage"),
        )
        out: list[BaseChunk] = [*self.close(), FinishStepChunk()]
        if status in ("stopped", "interrupted"):
            # As Pydantic AI's own stream ends a cancelled run: `useChat` calls `onFinish`
            # with `isAbort`, and the reply as far as it got is kept (it is saved here too).
            out += [
                MessageMetadataChunk(message_metadata=metadata),
                AbortChunk(reason=f"The reply was {status}."),
            ]
        else:
            out.append(
                FinishChunk(finish_reason=_FINISH.get(status, "other"), message_metadata=metadata)
            )
        return [*out, DoneChunk()]


def encode(chunks: Sequence[BaseChunk]) -> bytes:
    """Server-Sent Events of chunks, as `VercelAIEventStream.encode_event` writes them."""
    return "".join(f"data: {c.encode(SDK_VERSION)}\n\n" for c in chunks).encode()


async def frames(
    batches: AsyncIterator[list[Numbered]],
    stream: UIMessageStream,
    *,
    earlier: Callable[[dict[str, Any]], Awaitable[list[models.Part]]] | None = None,
) -> AsyncIterator[bytes]:
    """A run's event batches as the response body; an empty batch becomes a keep-alive.

    `earlier`: for a client that has nothing of the reply yet (a reattach), the parts it had
    before this run, from its `start` message (a run resumed after approvals).
    """
    async for batch in batches:
        if not batch:
            yield b": keep-alive\n\n"
            continue
        chunks: list[BaseChunk] = []
        for _, name, data in batch:
            if name == "start" and earlier is not None:
                stream.earlier = await earlier(data["message"])
            chunks += stream.feed(name, data)
        if chunks:
            yield encode(chunks)


# -- Parley's messages as UIMessages (a page load's `useChat({messages})`) -----------------


def ui_messages(messages: Sequence[models.Message], files_url: str) -> list[dict[str, Any]]:
    """The branch as `UIMessage`s (JSON), for `useChat`'s initial messages.

    `files_url` is where an attachment's bytes are (`…/api/files/`). A reply still being
    generated is left out: `useChat({resume: true})` gets it whole from the run's stream.
    """
    return [
        _ui_message(m, files_url)
        for m in messages
        if not (m.role == "assistant" and m.status == "generating")
    ]


def _ui_message(message: models.Message, files_url: str) -> dict[str, Any]:
    if message.role == "user":
        parts: list[dict[str, Any]] = [{"type": "text", "text": message.text}]
        for part in message.parts:
            if isinstance(part, models.AttachmentPart):
                parts.append(
                    {
                        "type": "file",
                        "mediaType": part.media_type,
                        "filename": part.name,
                        "url": f"{files_url}{part.id}",
                    }
                )
        return {"id": message.id, "role": "user", "parts": parts}
    return {
        "id": message.id,
        "role": "assistant",
        "metadata": _metadata(
            message.id,
            message.conversation_id,
            runId=message.run_id,
            status=message.status,
            error=message.error,
            model=message.model,
            usage=message.usage.model_dump() if message.usage else None,
        ),
        "parts": _assistant_parts(message.parts),
    }


def _assistant_parts(parts: Sequence[models.Part]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    tools: dict[str, dict[str, Any]] = {}
    for part in parts:
        if isinstance(part, models.TextPart):
            out.append({"type": "text", "text": part.text, "state": "done"})
        elif isinstance(part, models.ThinkingPart):
            out.append({"type": "reasoning", "text": part.text, "state": "done"})
        elif isinstance(part, models.ToolCallPart):
            if part.tool_call_id in tools:
                continue  # a call run after its approval is announced again: one part
            tool = _tool_part(part)
            tools[part.tool_call_id] = tool
            out.append(tool)
        elif isinstance(part, models.ToolResultPart):
            found = tools.get(part.tool_call_id)
            if found is not None and found["state"] not in ("output-denied", "output-error"):
                found["state"] = "output-available"
                found["output"] = part.content
    return out


def _tool_part(part: models.ToolCallPart) -> dict[str, Any]:
    tool: dict[str, Any] = {
        "type": f"tool-{part.tool_name}",
        "toolCallId": part.tool_call_id,
        "state": "input-available",
        "input": _input(part.args),
    }
    if part.native:
        tool["providerExecuted"] = True
    approval = part.approval
    if approval is None:
        return tool
    if approval.state == "pending":
        tool["state"] = "approval-requested"
        tool["approval"] = {"id": part.tool_call_id}
    elif approval.state == "approved":
        tool["approval"] = {"id": part.tool_call_id, "approved": True}
    elif approval.state == "denied":
        tool["state"] = "output-denied"
        tool["approval"] = {"id": part.tool_call_id, "approved": False}
        if approval.reason:
            tool["approval"]["reason"] = approval.reason
    else:  # not_run: a new prompt was sent instead of an answer
        tool["state"] = "output-error"
        tool["errorText"] = "Not run: a new message was sent instead of an answer."
    return tool
