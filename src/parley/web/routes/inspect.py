"""GET /api/conversations/{id}/messages/{message_id}/inspect: one of the owner's replies as a
developer debugging an agent wants to see it (chat/inspect.py gathers it).

Only the owner's replies: another owner's message, a prompt, or an id that is not in the
conversation are all the same 404, so the route says nothing of what exists elsewhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from ...chat.inspect import Inspection, inspect_reply
from ..deps import Owner, StoreDep

router = APIRouter(tags=["messages"])

NOT_A_REPLY = "No such reply."
_ID = Path(max_length=64)


@router.get(
    "/conversations/{conversation_id}/messages/{message_id}/inspect",
    responses={404: {"description": NOT_A_REPLY}},
)
async def inspect_message(
    conversation_id: Annotated[str, _ID],
    message_id: Annotated[str, _ID],
    owner: Owner,
    store: StoreDep,
) -> Inspection:
    """What made a reply: the model and instructions, each model request with its timing
    (`first_token_ms`, `duration_ms`; null for replies saved before timings were recorded,
    `timings_recorded` false), each tool call with its arguments, result (cut at 4,000
    characters, `*_truncated`) and duration, the usage, and the turn's Pydantic AI messages
    (`messages`, as `ModelMessagesTypeAdapter` writes them)."""
    found = await inspect_reply(store.engine, owner, conversation_id, message_id)
    if found is None:
        raise HTTPException(404, NOT_A_REPLY)
    return found
