"""/api/conversations/{id}/messages: list the branch, send a prompt (answers with SSE)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse

from ...chat.models import Message
from .. import sse
from ..deps import Owner, RunsDep, SettingsDep, StoreDep
from ..schemas import ListedMessage, Page, SendMessage
from .conversations import NOT_FOUND

_SSE_DOC: dict[str, Any] = {
    "description": "Server-Sent Events, see docs/protocol.md.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

router = APIRouter(prefix="/conversations/{conversation_id}/messages", tags=["messages"])


@router.get("", response_model=Page[ListedMessage])
async def list_messages(
    conversation_id: str,
    owner: Owner,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[str | None, Query(max_length=64)] = None,
) -> JSONResponse:
    page = await store.list_messages(owner, conversation_id, limit, before)
    if page is None:
        raise HTTPException(404, NOT_FOUND)
    items, next_cursor = page
    # Message.wire, documented as ListedMessage: each text once.
    return JSONResponse({"items": [m.wire() for m in items], "next_cursor": next_cursor})


@router.get("/{message_id}")
async def get_message(
    conversation_id: str, message_id: str, owner: Owner, store: StoreDep
) -> Message:
    """One message with all its text: the source of each part, as the list does not send it."""
    message = await store.get_message(owner, conversation_id, message_id)
    if message is None:
        raise HTTPException(404, "No such message.")
    return message


@router.post(
    "",
    responses={
        200: _SSE_DOC,
        404: {"description": "No such conversation."},
        409: {"description": "A reply is already being generated in this conversation."},
        413: {"description": "The prompt is longer than the configured maximum."},
    },
)
async def send_message(
    conversation_id: str,
    body: SendMessage,
    owner: Owner,
    runs: RunsDep,
    settings: SettingsDep,
) -> EventSourceResponse:
    if len(body.prompt) > settings.max_prompt_chars:
        raise HTTPException(
            413, f"The message is longer than {settings.max_prompt_chars} characters."
        )
    run = await runs.start(owner, conversation_id, body.prompt)
    if run is None:
        raise HTTPException(404, NOT_FOUND)
    return EventSourceResponse(sse.frames(run.batches()), headers=sse.HEADERS)
