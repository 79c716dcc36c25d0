"""/api/conversations/{id}/messages: list the branch, send a prompt (answers with SSE)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.sse import EventSourceResponse

from ..deps import Owner, RunsDep, SettingsDep, StoreDep
from ..schemas import Message, Page, SendMessage
from .conversations import NOT_FOUND

_SSE_DOC: dict[str, Any] = {
    "description": "Server-Sent Events, see docs/protocol.md.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

router = APIRouter(prefix="/conversations/{conversation_id}/messages", tags=["messages"])


@router.get("")
async def list_messages(
    conversation_id: str,
    owner: Owner,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[Message]:
    page = await store.list_messages(owner, conversation_id, limit, before)
    if page is None:
        raise HTTPException(404, NOT_FOUND)
    items, next_cursor = page
    return Page(items=items, next_cursor=next_cursor)


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
    return EventSourceResponse(run.frames(), headers=_SSE_HEADERS)


_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
