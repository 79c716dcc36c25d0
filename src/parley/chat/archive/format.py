"""Parley JSON, version 1: the export and import format (documented in docs/export-format.md).

One document holds conversations; each is self-contained: every message of every branch
(parents before children), with Pydantic AI's own messages for its turn and the files its
prompts sent. So a conversation can be read, checked and imported on its own, one at a time,
from a file of any size.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from ..models import Part, Status, TitleSource, Usage

FORMAT = "parley"
VERSION = 1


class ArchivedFile(BaseModel):
    """A file a prompt sent, with its bytes (base64 in JSON)."""

    id: str = Field(min_length=1, max_length=32)
    name: str = Field(max_length=255)
    media_type: str = Field(max_length=100)
    kind: Literal["image", "pdf", "text"]
    size: int = Field(ge=0)
    sha256: str = Field(max_length=64)
    created_at: datetime
    # A PDF's extracted text (what a model that takes no documents receives).
    text: str | None = None
    data: bytes

    @field_validator("data", mode="before")
    @classmethod
    def _base64(cls, value: Any) -> Any:
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
        return value

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"data"}) | {
            "data": base64.b64encode(self.data).decode()
        }


class ArchivedMessage(BaseModel):
    id: str = Field(min_length=1, max_length=32)
    parent_id: str | None = None
    role: Literal["user", "assistant"]
    status: Status = "complete"
    # The message's text (a prompt, or a reply's text parts joined): what search finds.
    text: str = ""
    parts: list[Part] = []
    error: str | None = None
    model: str | None = Field(default=None, max_length=200)
    usage: Usage | None = None
    created_at: datetime
    updated_at: datetime | None = None
    # Pydantic AI's messages of this turn (ModelMessagesTypeAdapter's JSON): a prompt holds
    # its ModelRequest, a reply everything its run added. Files' bytes are not repeated here:
    # a prompt's BinaryContent has empty data and the identifier "file-<id of files[]>".
    model_messages: list[dict[str, Any]] = []


class ArchivedConversation(BaseModel):
    id: str = Field(min_length=1, max_length=32)
    title: str
    title_source: TitleSource = "user"
    pinned: bool = False
    archived: bool = False
    model: str | None = Field(default=None, max_length=200)
    instructions: str | None = None
    tools_off: list[str] = []
    # Where it was imported from ("chatgpt:<id>", "claude:<uuid>", "parley:<id>"); null for a
    # conversation written in Parley. Importing it again anywhere skips it.
    source: str | None = Field(default=None, max_length=200)
    created_at: datetime
    updated_at: datetime
    # The branch shown: one of `messages` (null: none yet).
    current_leaf_id: str | None = None
    messages: list[ArchivedMessage] = []
    files: list[ArchivedFile] = []


def header(exported_at: datetime) -> dict[str, Any]:
    """The document's fields before its conversations."""
    return {"format": FORMAT, "version": VERSION, "exported_at": exported_at.isoformat()}
