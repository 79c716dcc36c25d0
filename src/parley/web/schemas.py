"""The request and response bodies of the HTTP API (see docs/protocol.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from ..chat.approvals import Decision
from ..chat.models import (
    AttachmentPart,
    Conversation,
    Feedback,
    FilePart,
    Status,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from ..chat.text import Text, check_text
from ..chat.usage import Totals

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(check_text),
]


class ModelInfo(BaseModel):
    """A model to choose from (`GET /api/models`)."""

    id: str
    context_window: int | None
    images: bool
    documents: bool
    assumed: list[Literal["images", "documents"]]
    input_price: float | None
    output_price: float | None


class UsageTotals(BaseModel):
    """Usage added up. `cost`: USD of the priced replies, null if none was priced; `unpriced`:
    replies whose model has no known price (so a total is never a false 0). `key`: the model,
    the UTC day (YYYY-MM-DD) or the user of a group."""

    key: str | None = None
    replies: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int
    cost: float | None
    unpriced: int

    @classmethod
    def of(cls, totals: Totals) -> UsageTotals:
        return cls(
            key=totals.key,
            replies=totals.replies,
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            cache_read_tokens=totals.cache_read_tokens,
            reasoning_tokens=totals.reasoning_tokens,
            cost=float(totals.cost) if totals.cost is not None else None,
            unpriced=totals.unpriced,
        )


class ConversationCreate(BaseModel):
    title: Title | None = None


MAX_INSTRUCTIONS_CHARS = 20_000

Instructions = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_INSTRUCTIONS_CHARS),
    AfterValidator(check_text),
]


# An MCP server's name as the config file may give it (agents/mcp/config.py). Names no
# server has are kept: a server the operator removes and adds back stays switched off.
ServerName = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
]


class ConversationUpdate(BaseModel):
    """What to change; fields left out stay as they are. `model` null: back to the default
    model; `instructions` null or empty: none of the conversation's own."""

    title: Title | None = None
    pinned: bool | None = None
    archived: bool | None = None
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    instructions: Instructions | None = None
    # The MCP servers whose tools its next replies are not offered (null or []: none).
    tools_off: Annotated[list[ServerName], Field(max_length=100)] | None = None

    @model_validator(mode="after")
    def _something(self) -> ConversationUpdate:
        if not self.model_fields_set:
            raise ValueError("give a title, pinned, archived, model, instructions or tools_off")
        return self


MessageId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class MessageRef(BaseModel):
    """A message of the conversation: where to fork, or which version to show."""

    message_id: MessageId


FileId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class SendMessage(BaseModel):
    # Length beyond the configured maximum is a 413, checked by the route against settings.
    prompt: Text
    # Files uploaded first (POST /api/files), sent with the prompt; more than the configured
    # number per message is a 413, checked by the route.
    files: list[FileId] = Field(default_factory=list)

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("the message is empty")
        return prompt


class UploadedFile(BaseModel):
    """A file stored by `POST /api/files`: send its `id` with a prompt. `kind`: what it was
    found to be from its bytes (an image, a PDF, or UTF-8 text)."""

    id: str
    name: str
    media_type: str
    size: int
    kind: Literal["image", "pdf", "text"]


class Info(BaseModel):
    version: str
    model: str
    max_prompt_chars: int
    # Shown by the UI beside the model name, e.g. that the bundled local model is tiny.
    model_notice: str | None = None


class ListedTextPart(BaseModel):
    type: Literal["text"] = "text"
    # Rendered markdown; null for a user's plain text (the message's `text`).
    html: str | None


ListedPart = Annotated[
    ListedTextPart | ThinkingPart | ToolCallPart | ToolResultPart | FilePart | AttachmentPart,
    Field(discriminator="type"),
]


class ListedMessage(BaseModel):
    """A message as lists and run events send it (`Message.wire`): each text once. A reply's
    markdown source is at `GET /api/conversations/{id}/messages/{message_id}`."""

    id: str
    conversation_id: str
    parent_id: str | None
    role: Literal["user", "assistant"]
    # The prompt of a user's message; absent on a reply whose parts carry rendered HTML.
    text: str | None = None
    parts: list[ListedPart]
    status: Status
    error: str | None = None
    model: str | None = None
    usage: Usage | None = None
    run_id: str | None = None
    created_at: datetime
    # Every version at this position, oldest first, this one included.
    siblings: list[str]
    # The owner's rating of a reply (PUT …/messages/{id}/feedback); null: not rated, or a prompt.
    feedback: Feedback | None = None


class MessagePage(BaseModel):
    items: list[ListedMessage]
    # Pass as `before` for older messages, as `after` for newer ones; null at either end.
    next_cursor: str | None = None
    newer_cursor: str | None = None
    # The first message the model receives next turn when older ones do not fit its context
    # window; null when the whole branch is sent.
    context_start_id: str | None = None
    # None of the branch fits: the next prompt is sent alone.
    context_empty: bool = False


class SearchHit(BaseModel):
    message_id: str
    role: Literal["user", "assistant"]
    # The text around the hit, HTML-escaped, hits wrapped in <mark>: safe as innerHTML.
    snippet_html: str
    created_at: datetime


class SearchResult(BaseModel):
    conversation: Conversation
    title_html: str
    hits: list[SearchHit]


class AnswerToolCalls(BaseModel):
    """The user's answers to the tool calls a reply waits on (chat/approvals.py)."""

    decisions: list[Decision] = Field(min_length=1, max_length=100)


class ShareSettings(BaseModel):
    """`PUT /api/conversations/{id}/share`: share the branch shown now (or refresh the
    snapshot of its link). `include_files`: the page shows the prompts' files (images) too."""

    include_files: bool = False


class ShareLink(BaseModel):
    """A share link, as its owner sees it (`Share` in docs/protocol.md)."""

    id: str
    conversation_id: str
    title: str
    # The read-only page, relative to Parley's address: "/s/<id>".
    url: str
    include_files: bool
    created_at: datetime
    # When the snapshot was taken (sharing, or "Update link").
    updated_at: datetime


class ShareList(BaseModel):
    items: list[ShareLink]


class SharedConversation(BaseModel):
    """A shared snapshot, as a viewer gets it: its messages as lists send them."""

    id: str
    title: str
    shared_at: datetime
    include_files: bool
    messages: list[ListedMessage]
    # The viewer may copy it into their own chats (logged in, or local mode).
    can_continue: bool
