"""Turns Pydantic AI's stream events into Parley's wire events and the parts the UI lists.

Knows nothing of HTTP or the database: it is fed `AgentStreamEvent`s and answers with
`(event name, data)` pairs as described in docs/protocol.md.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic_ai.messages import (
    AgentStreamEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
)

from ..chat import models as schemas
from ..chat.text import clean_text
from ..render import BlockStreamer

WireEvent = tuple[str, dict[str, Any]]

_SURROGATE = re.compile("[\ud800-\udfff]")


class ReplyBuilder:
    """Accumulates one assistant reply.

    Consecutive text parts of the model merge into one UI text part (joined by a blank line),
    so the client can follow the simple rule "text after a non-text part starts a new part".
    """

    def __init__(self) -> None:
        self.parts: list[schemas.Part] = []
        # A high surrogate that ended the last delta, waiting for its low half.
        self._carry = ""
        self._text: BlockStreamer | None = None
        self._thinking: list[str] | None = None

    def handle(self, event: AgentStreamEvent) -> list[WireEvent]:
        if isinstance(event, PartStartEvent):
            part = event.part
            if isinstance(part, TextPart):
                return self._text_delta(part.content, new_part=True)
            if isinstance(part, ThinkingPart):
                return self._thinking_delta(part.content, new_part=True)
            return self._close()
        if isinstance(event, PartDeltaEvent):
            delta = event.delta
            if isinstance(delta, TextPartDelta):
                return self._text_delta(delta.content_delta, new_part=False)
            if isinstance(delta, ThinkingPartDelta) and delta.content_delta:
                return self._thinking_delta(delta.content_delta, new_part=False)
            return []
        if isinstance(event, FunctionToolCallEvent):
            call = event.part
            return self._tool_part(
                schemas.ToolCallPart(
                    tool_call_id=clean_text(call.tool_call_id),
                    tool_name=clean_text(call.tool_name),
                    args=clean_text(call.args_as_json_str()),
                )
            )
        if isinstance(event, FunctionToolResultEvent):
            result = event.part
            return self._tool_part(
                schemas.ToolResultPart(
                    tool_call_id=clean_text(result.tool_call_id),
                    tool_name=clean_text(result.tool_name),
                    content=clean_text(result.model_response_str()),
                )
            )
        return []

    def _tool_part(self, part: schemas.ToolCallPart | schemas.ToolResultPart) -> list[WireEvent]:
        out = self._close()
        self.parts.append(part)
        return [*out, (part.type, part.model_dump(exclude={"type"}))]

    def close(self) -> list[WireEvent]:
        """Finish the open part; call once the run has ended, however it ended."""
        return self._close()

    def _clean(self, delta: str) -> str:
        """Text a provider streamed, made storable: a surrogate pair split across two deltas
        is joined, anything else that is not valid Unicode is replaced (chat.text)."""
        delta = self._carry + delta
        self._carry = ""
        if delta and "\ud800" <= delta[-1] <= "\udbff":
            delta, self._carry = delta[:-1], delta[-1]
        if _SURROGATE.search(delta):
            delta = delta.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return clean_text(delta)

    def _text_delta(self, delta: str, *, new_part: bool) -> list[WireEvent]:
        delta = self._clean(delta)
        out: list[WireEvent] = []
        if self._text is None:
            out = self._close()
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
            out = self._close()
            self._thinking = []
            self.parts.append(schemas.ThinkingPart(text=""))
        elif new_part:
            delta = "\n\n" + delta
        if not delta:
            return out
        self._thinking.append(delta)
        out.append(("thinking", {"d": delta}))
        return out

    def _close(self) -> list[WireEvent]:
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
