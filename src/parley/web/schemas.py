"""The request and response bodies of the HTTP API (see docs/protocol.md)."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, StringConstraints, field_validator

from ..chat.text import Text, check_text

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(check_text),
]


class ConversationCreate(BaseModel):
    title: Title | None = None


class ConversationUpdate(BaseModel):
    title: Title


class SendMessage(BaseModel):
    # Length beyond the configured maximum is a 413, checked by the route against settings.
    prompt: Text

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
