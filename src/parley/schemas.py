"""The JSON shapes of the HTTP API (see docs/protocol.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, StringConstraints, field_validator

Status = Literal["complete", "generating", "stopped", "error", "interrupted"]


class TextPart(BaseModel):
    type: Literal["text"] = "text"
    text: str
    html: str | None = None


class ThinkingPart(BaseModel):
    type: Literal["thinking"] = "thinking"
    text: str


class ToolCallPart(BaseModel):
    type: Literal["tool_call"] = "tool_call"
    tool_call_id: str
    tool_name: str
    args: str


class ToolResultPart(BaseModel):
    type: Literal["tool_result"] = "tool_result"
    tool_call_id: str
    tool_name: str
    content: str


Part = Annotated[
    TextPart | ThinkingPart | ToolCallPart | ToolResultPart, Field(discriminator="type")
]


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class Message(BaseModel):
    id: str
    conversation_id: str
    parent_id: str | None
    role: Literal["user", "assistant"]
    text: str
    parts: list[Part]
    status: Status
    error: str | None = None
    model: str | None = None
    usage: Usage | None = None
    run_id: str | None = None
    created_at: datetime


class Conversation(BaseModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    active_run_id: str | None = None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ConversationCreate(BaseModel):
    title: Title | None = None


class ConversationUpdate(BaseModel):
    title: Title


class SendMessage(BaseModel):
    # Length beyond the configured maximum is a 413, checked by the route against settings.
    prompt: str

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("the message is empty")
        return prompt


class Info(BaseModel):
    version: str
    model: str
    max_prompt_chars: int
    # Shown by the UI beside the model name, e.g. that the bundled local model is tiny.
    model_notice: str | None = None
