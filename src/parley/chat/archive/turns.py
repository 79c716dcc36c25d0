"""One turn of an imported conversation as Parley keeps it: a prompt, or a reply built from the
pieces another app stored it as (text, thinking, tool calls and their results), with its parts
as Parley shows them and Pydantic AI's messages as a reply written in Parley holds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from pydantic_ai import messages as ai
from pydantic_ai.messages import ModelMessagesTypeAdapter

from ...db.ids import new_id
from ...render import render_markdown
from ..models import Part, TextPart, ThinkingPart, ToolCallPart, ToolResultPart
from .format import ArchivedMessage

NO_RESULT = "No result was imported for this call."

_Outcome = Literal["success", "failed", "interrupted"]


@dataclass(frozen=True)
class Piece:
    """One thing a reply holds, in the order it came."""

    kind: Literal["text", "thinking", "call", "result"]
    # Text or thinking: its text; a call: its arguments' JSON text; a result: the tool's output.
    content: str
    at: datetime
    model: str | None = None
    tool_name: str = ""
    # A call: its id. A result: the call it answers ("" when the app does not say).
    tool_call_id: str = ""
    failed: bool = False


def _dump(messages: list[ai.ModelMessage]) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], ModelMessagesTypeAdapter.dump_python(messages, mode="json"))


def prompt_message(
    text: str, sent: list[str] | None, at: datetime, parent_id: str | None
) -> ArchivedMessage:
    """A prompt: `text` as the user sees it, `sent` as the model received it (if not `text`)."""
    content: str | list[str] = text if sent is None else sent
    request = ai.ModelRequest(parts=[ai.UserPromptPart(content, timestamp=at)], timestamp=at)
    return ArchivedMessage(
        id=new_id(),
        parent_id=parent_id,
        role="user",
        text=text,
        parts=[TextPart(text=text)],
        created_at=at,
        model_messages=_dump([request]),
    )


def reply_message(pieces: list[Piece], parent_id: str) -> ArchivedMessage:
    """A reply of `pieces` (at least one), in order."""
    built = _Reply()
    for piece in pieces:
        built.add(piece)
    parts, messages = built.finish()
    return ArchivedMessage(
        id=new_id(),
        parent_id=parent_id,
        role="assistant",
        text="\n\n".join(p.text for p in parts if isinstance(p, TextPart)),
        parts=parts,
        model=next((p.model for p in pieces if p.model), None),
        created_at=pieces[0].at,
        updated_at=pieces[-1].at,
        model_messages=_dump(messages),
    )


class _Reply:
    """One reply's parts as Parley shows them and Pydantic AI's messages, piece by piece:
    responses, with the tool results between them in requests."""

    def __init__(self) -> None:
        # Consecutive text (or thinking) shows as one part, as a reply written in Parley does.
        self.segments: list[tuple[Literal["text", "thinking"], list[str]] | Part] = []
        self.messages: list[ai.ModelMessage] = []
        self.response: list[ai.ModelResponsePart] = []
        self.response_of: tuple[datetime, str | None] | None = None
        self.returns: list[ai.ModelRequestPart] = []
        self.returns_at: datetime | None = None
        # Calls not answered yet (id: tool name, oldest first), and their ids by tool name.
        self.pending: dict[str, str] = {}
        self.by_name: dict[str, list[str]] = {}
        self.seen: set[str] = set()
        self.last_at: datetime | None = None

    def add(self, piece: Piece) -> None:
        self.last_at = piece.at
        if piece.kind == "result":
            call = self._match(piece)
            if call is not None:
                self._result(piece, *call)
                return
            # A result no call asked for: shown (and given to the model) as text.
            header = f"[Output of {piece.tool_name or 'a tool'}]"
            text = f"{header}\n\n{piece.content}" if piece.content else header
            piece = Piece("text", text, piece.at, piece.model)
        self._flush_returns()
        if self.response_of is None:
            self.response_of = (piece.at, piece.model)
        if piece.kind == "call":
            self._call(piece)
            return
        kind: Literal["text", "thinking"] = "text" if piece.kind == "text" else "thinking"
        if kind == "text":
            self.response.append(ai.TextPart(piece.content))
        else:
            self.response.append(ai.ThinkingPart(piece.content))
        last = self.segments[-1] if self.segments else None
        if isinstance(last, tuple) and last[0] == kind:
            last[1].append(piece.content)
        else:
            self.segments.append((kind, [piece.content]))

    def _call(self, piece: Piece) -> None:
        call_id, name = piece.tool_call_id, piece.tool_name
        if not call_id or call_id in self.seen:
            # Results are matched to calls by id: each call of the reply needs its own.
            call_id = new_id()
        self.seen.add(call_id)
        self.response.append(ai.ToolCallPart(name, piece.content, call_id))
        self.segments.append(ToolCallPart(tool_call_id=call_id, tool_name=name, args=piece.content))
        self.pending[call_id] = name
        self.by_name.setdefault(name, []).append(call_id)

    def _match(self, piece: Piece) -> tuple[str, str] | None:
        """The pending call `piece` answers: by id, else the last by the tool's name, else
        the last. Constant time (amortised), however many calls a reply makes."""
        call_id = piece.tool_call_id
        if call_id not in self.pending:
            named = self.by_name.get(piece.tool_name, [])
            while named and named[-1] not in self.pending:
                named.pop()
            call_id = named[-1] if named else next(reversed(self.pending), "")
        if call_id not in self.pending:
            return None
        return call_id, self.pending.pop(call_id)

    def _result(
        self, piece: Piece, call_id: str, name: str, outcome: _Outcome | None = None
    ) -> None:
        self._flush_response()
        if self.returns_at is None:
            self.returns_at = piece.at
        self.returns.append(
            ai.ToolReturnPart(
                name,
                piece.content,
                call_id,
                timestamp=piece.at,
                outcome=outcome or ("failed" if piece.failed else "success"),
            )
        )
        self.segments.append(
            ToolResultPart(tool_call_id=call_id, tool_name=name, content=piece.content)
        )

    def _flush_response(self) -> None:
        if self.response_of is not None:
            at, model = self.response_of
            self.messages.append(ai.ModelResponse(self.response, model_name=model, timestamp=at))
            self.response, self.response_of = [], None

    def _flush_returns(self) -> None:
        if self.returns_at is not None:
            self.messages.append(ai.ModelRequest(self.returns, timestamp=self.returns_at))
            self.returns, self.returns_at = [], None

    def finish(self) -> tuple[list[Part], list[ai.ModelMessage]]:
        # A call whose result is not in the file is answered, so the history stays one a
        # provider accepts, and Parley does not show the tool as still running.
        for call_id, name in self.pending.items():
            assert self.last_at is not None  # a pending call came in a piece
            missing = Piece("result", NO_RESULT, self.last_at)
            self._result(missing, call_id, name, "interrupted")
        self.pending.clear()
        self._flush_response()
        self._flush_returns()
        parts: list[Part] = []
        for segment in self.segments:
            if not isinstance(segment, tuple):
                parts.append(segment)
                continue
            kind, texts = segment
            joined = "\n\n".join(texts)
            if kind == "text":
                parts.append(TextPart(text=joined, html=render_markdown(joined)))
            else:
                parts.append(ThinkingPart(text=joined))
        return parts, self.messages
