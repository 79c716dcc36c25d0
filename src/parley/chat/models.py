"""Conversations, messages and their parts: what the store returns and the API shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Status = Literal["complete", "generating", "stopped", "error", "interrupted", "awaiting_approval"]


class TextPart(BaseModel):
    type: Literal["text"] = "text"
    text: str
    html: str | None = None


class ThinkingPart(BaseModel):
    type: Literal["thinking"] = "thinking"
    text: str


class Approval(BaseModel):
    """A tool call that needed the user's yes or no, and what they said (chat/approvals.py)."""

    # pending: waiting; approved / denied: answered; not_run: a new prompt was sent instead.
    state: Literal["pending", "approved", "denied", "not_run"] = "pending"
    # The tool's arguments' JSON schema, when known: edited arguments are checked against it.
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    reason: str | None = None
    # Arguments the user edited before approving (JSON text), if any.
    args: str | None = None
    by: str | None = None
    # When, ISO 8601 UTC (parts are stored as JSON).
    at: str | None = None

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class ToolCallPart(BaseModel):
    type: Literal["tool_call"] = "tool_call"
    tool_call_id: str
    tool_name: str
    args: str
    # A tool the provider runs itself (web search, code execution), not one of the agent's.
    native: bool = False
    approval: Approval | None = None


class ToolResultPart(BaseModel):
    type: Literal["tool_result"] = "tool_result"
    tool_call_id: str
    tool_name: str
    content: str
    native: bool = False


class FilePart(BaseModel):
    """A file the model produced (an image, say); its bytes stay in the model's messages."""

    type: Literal["file"] = "file"
    media_type: str
    size: int


class AttachmentPart(BaseModel):
    """A file the user attached to a prompt (chat/files.py); its bytes are at
    `GET /api/files/{id}`, never in the message."""

    type: Literal["attachment"] = "attachment"
    id: str
    name: str
    media_type: str
    size: int
    # How the model received it: "file" its bytes (an image, a PDF), "text" as text (a text
    # file, or a PDF's extracted text for a model that takes no documents).
    sent_as: Literal["file", "text"]


Part = Annotated[
    TextPart | ThinkingPart | ToolCallPart | ToolResultPart | FilePart | AttachmentPart,
    Field(discriminator="type"),
]


class Usage(BaseModel):
    """What a reply used, as its provider reported it, and what it cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    # Parts of the above, when the provider reports them (0 otherwise).
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    # USD, from Pydantic AI's usage (genai-prices); None when the model has no known price,
    # never a false 0.
    cost: float | None = None
    # The history sent with this reply left older messages out (the context window).
    context_cut: bool = False


Rating = Literal["good", "bad"]


class Feedback(BaseModel):
    """The owner's rating of a reply (chat/feedback.py), with their comment if they wrote one."""

    rating: Rating
    comment: str | None = None


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
    # Every version at this position of the tree (the children of the same parent, in the
    # order they were written), this one included: more than one means a switcher.
    siblings: list[str] = Field(default_factory=list)
    # A reply's rating by its owner, if they rated it; always None for a prompt.
    feedback: Feedback | None = None

    def wire(self) -> dict[str, Any]:
        """The message as the API lists it: each text once.

        A user's message sends its text (its part has no HTML); a reply sends each text part's
        rendered HTML and not its markdown source, which
        `GET /api/conversations/{id}/messages/{message_id}` gives (for copying or editing).
        """
        data = self.model_dump(mode="json")
        rendered = False
        for part in data["parts"]:
            if part["type"] == "text":
                del part["text"]
                rendered = rendered or part["html"] is not None
        if rendered:
            del data["text"]
        return data


TitleSource = Literal["default", "prompt", "model", "user"]


class Conversation(BaseModel):
    id: str
    title: str
    # "prompt": the first prompt's first line, until the model writes a title ("model"); a
    # title the user set ("user") is never replaced.
    title_source: TitleSource = "prompt"
    pinned: bool = False
    archived: bool = False
    # The conversation's model (an id from GET /api/models); None: the operator's default.
    model: str | None = None
    # Added after the operator's instructions on every reply in this conversation.
    instructions: str | None = None
    # MCP servers (their names in GET /api/tools) whose tools its replies are not offered.
    tools_off: list[str] = []
    created_at: datetime
    updated_at: datetime
    active_run_id: str | None = None
