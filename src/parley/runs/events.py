"""A reply's events: Pydantic AI's stream events as Parley's wire events and the message's parts.

Built on Pydantic AI's `UIEventStream`, the base of its own Vercel AI and AG-UI adapters: it
tracks which part is open, tells text that follows text from text after a tool call, and when
a run fails or is cancelled mid-stream it closes the open part and answers every tool call still
pending as interrupted, so a reply never shows a tool "still running". Parley's subclass only
says what each event becomes (docs/protocol.md): text through a `BlockStreamer` (each finished
markdown block rendered once), thinking, tool calls and results (native ones too), files, and
the tool calls a run leaves waiting for approval. It knows nothing of HTTP or the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.exceptions import RunCancelled
from pydantic_ai.messages import (
    DeferredToolRequestsEvent,
    FilePart,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    NativeToolCallPart,
    NativeToolReturnPart,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
)
from pydantic_ai.ui import UIEventStream

from ..chat import models as schemas
from ..chat.text import clean_text
from ..render import BlockStreamer

WireEvent = tuple[str, dict[str, Any]]


@dataclass
class ReplyStream(UIEventStream[None, WireEvent, Any, Any]):
    """Accumulates one assistant reply while translating its events.

    Consecutive text parts of the model merge into one UI text part (joined by a blank line),
    so the client can follow the simple rule "text after a non-text part starts a new part".
    After `transform_stream` has ended, `error` holds what broke the run (if anything) and
    `cancelled` the `RunCancelled` (a stop or a timeout) if it was cancelled.
    """

    parts: list[schemas.Part] = field(default_factory=list[schemas.Part])
    error: Exception | None = None
    _text: BlockStreamer | None = None
    _thinking: list[str] | None = None
    # A high surrogate that ended the last delta, waiting for its low half.
    _carry: str = ""

    # -- what each Pydantic AI event becomes ---------------------------------------------

    async def handle_text_start(
        self, part: TextPart, follows_text: bool = False
    ) -> AsyncIterator[WireEvent]:
        for event in self._text_delta(part.content, new_part=True):
            yield event

    async def handle_text_delta(self, delta: TextPartDelta) -> AsyncIterator[WireEvent]:
        for event in self._text_delta(delta.content_delta, new_part=False):
            yield event

    async def handle_thinking_start(
        self, part: ThinkingPart, follows_thinking: bool = False
    ) -> AsyncIterator[WireEvent]:
        for event in self._thinking_delta(part.content, new_part=True):
            yield event

    async def handle_thinking_delta(self, delta: ThinkingPartDelta) -> AsyncIterator[WireEvent]:
        if delta.content_delta:
            for event in self._thinking_delta(delta.content_delta, new_part=False):
                yield event

    async def handle_tool_call_start(self, part: ToolCallPart) -> AsyncIterator[WireEvent]:
        for event in self.close():
            yield event

    async def handle_builtin_tool_call_start(
        self, part: NativeToolCallPart
    ) -> AsyncIterator[WireEvent]:
        for event in self.close():
            yield event

    async def handle_function_tool_call(
        self, event: FunctionToolCallEvent
    ) -> AsyncIterator[WireEvent]:
        for wire in self._tool_call(event.part, native=False):
            yield wire

    async def handle_builtin_tool_call_end(
        self, part: NativeToolCallPart
    ) -> AsyncIterator[WireEvent]:
        for wire in self._tool_call(part, native=True):
            yield wire

    async def handle_function_tool_result(
        self, event: FunctionToolResultEvent
    ) -> AsyncIterator[WireEvent]:
        result = event.part
        for wire in self._add_part(
            schemas.ToolResultPart(
                tool_call_id=clean_text(result.tool_call_id),
                tool_name=clean_text(result.tool_name),
                content=clean_text(result.model_response_str()),
            )
        ):
            yield wire

    async def handle_builtin_tool_return(
        self, part: NativeToolReturnPart
    ) -> AsyncIterator[WireEvent]:
        for wire in self._add_part(
            schemas.ToolResultPart(
                tool_call_id=clean_text(part.tool_call_id),
                tool_name=clean_text(part.tool_name),
                content=clean_text(part.model_response_str()),
                native=True,
            )
        ):
            yield wire

    async def handle_file(self, part: FilePart) -> AsyncIterator[WireEvent]:
        # The bytes stay in the model's messages; the UI part says what the file is.
        content = part.content
        for wire in self._add_part(
            schemas.FilePart(media_type=clean_text(content.media_type), size=len(content.data))
        ):
            yield wire

    async def handle_deferred_tool_requests(
        self, event: DeferredToolRequestsEvent
    ) -> AsyncIterator[WireEvent]:
        # The run ends on these calls: the user (or the program) must answer them first.
        waiting = [call.tool_call_id for call in event.requests.approvals] + [
            call.tool_call_id for call in event.requests.calls
        ]
        if waiting:
            yield ("deferred", {"tool_call_ids": [clean_text(i) for i in waiting]})

    async def on_error(self, error: Exception) -> AsyncIterator[WireEvent]:
        self.error = error
        return
        yield  # an async generator that yields nothing

    async def on_cancelled(self, cancelled: RunCancelled) -> AsyncIterator[WireEvent]:
        return
        yield  # `cancelled` is kept by the base class

    def encode_event(self, event: WireEvent) -> str:
        # Framing is the web layer's (web/sse.py), which also merges deltas; nothing here
        # encodes for a response.
        raise NotImplementedError("Parley frames its events in parley.web.sse")

    # -- the parts -----------------------------------------------------------------------

    def close(self) -> list[WireEvent]:
        """Finish the open part; called before a part of another kind and once the run ended."""
        out: list[WireEvent] = []
        if self._text is not None:
            block = self._text.finish()
            if block is not None:
                out.append(("block", {"html": block[0], "n": block[1]}))
            self.parts[-1] = schemas.TextPart(text=self._text.text, html=self._text.html)
            self._text = None
        if self._thinking is not None:
            self.parts[-1] = schemas.ThinkingPart(text="".join(self._thinking))
            self._thinking = None
        return out

    def snapshot(self, *, rendered: bool = False) -> list[schemas.Part]:
        """The parts so far, the open one included, for saving a reply that is cut short.

        With `rendered`, the open text part's unfinished tail is rendered too, so a checkpoint
        read back after a crash shows all its text as markdown.
        """
        parts = list(self.parts)
        if self._text is not None:
            html = self._text.preview() if rendered else self._text.html
            parts[-1] = schemas.TextPart(text=self._text.text, html=html)
        if self._thinking is not None:
            parts[-1] = schemas.ThinkingPart(text="".join(self._thinking))
        return parts

    def _tool_call(
        self, call: ToolCallPart | NativeToolCallPart, *, native: bool
    ) -> list[WireEvent]:
        return self._add_part(
            schemas.ToolCallPart(
                tool_call_id=clean_text(call.tool_call_id),
                tool_name=clean_text(call.tool_name),
                args=clean_text(call.args_as_json_str()),
                native=native,
            )
        )

    def _add_part(self, part: schemas.Part) -> list[WireEvent]:
        out = self.close()
        self.parts.append(part)
        return [*out, (part.type, part.model_dump(exclude={"type"}, exclude_defaults=True))]

    def _clean(self, delta: str) -> str:
        """Text a provider streamed, made storable (chat.text.clean_text): a high surrogate
        ending a delta waits for the low half the next delta may start with."""
        delta = self._carry + delta
        self._carry = ""
        if delta and "\ud800" <= delta[-1] <= "\udbff":
            delta, self._carry = delta[:-1], delta[-1]
        return clean_text(delta)

    def _text_delta(self, delta: str, *, new_part: bool) -> list[WireEvent]:
        delta = self._clean(delta)
        out: list[WireEvent] = []
        if self._text is None:
            out = self.close()
            self._text = BlockStreamer()
            self.parts.append(schemas.TextPart(text="", html=""))
        elif new_part and self._text.text:
            delta = "\n\n" + delta
        if not delta:
            return out
        out.append(("text", {"d": delta}))
        block = self._text.feed(delta)
        if block is not None:
            out.append(("block", {"html": block[0], "n": block[1]}))
        return out

    def _thinking_delta(self, delta: str, *, new_part: bool) -> list[WireEvent]:
        delta = self._clean(delta)
        out: list[WireEvent] = []
        if self._thinking is None:
            out = self.close()
            self._thinking = []
            self.parts.append(schemas.ThinkingPart(text=""))
        elif new_part:
            delta = "\n\n" + delta
        if not delta:
            return out
        self._thinking.append(delta)
        out.append(("thinking", {"d": delta}))
        return out
