"""/api/conversations: create, list, get, rename / pin / archive, delete, fork, switch branch
(exporting one is in archive.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from ...chat.models import Conversation
from ...chat.store import UNSET
from ...chat.usage import totals
from ..deps import CatalogDep, Owner, RunsDep, StoreDep
from ..schemas import ConversationCreate, ConversationUpdate, MessageRef, Page, UsageTotals

router = APIRouter(prefix="/conversations", tags=["conversations"])

NOT_FOUND = "No such conversation."


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_conversation(
    body: ConversationCreate, owner: Owner, store: StoreDep
) -> Conversation:
    return await store.create_conversation(owner, body.title)


@router.get("")
async def list_conversations(
    owner: Owner,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    archived: bool = False,
) -> Page[Conversation]:
    """Pinned conversations first, then the most recently active. Archived ones are listed
    only with `archived=true` (and only they are)."""
    items, next_cursor = await store.list_conversations(owner, limit, cursor, archived=archived)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{conversation_id}")
async def get_conversation(conversation_id: str, owner: Owner, store: StoreDep) -> Conversation:
    conversation = await store.get_conversation(owner, conversation_id)
    if conversation is None:
        raise HTTPException(404, NOT_FOUND)
    return conversation


@router.get("/{conversation_id}/usage")
async def conversation_usage(conversation_id: str, owner: Owner, store: StoreDep) -> UsageTotals:
    """What the conversation's replies used and cost, every branch included."""
    if await store.get_conversation(owner, conversation_id) is None:
        raise HTTPException(404, NOT_FOUND)
    found = await totals(store.engine, owner=owner, conversation_id=conversation_id)
    return UsageTotals.of(found[0])


@router.patch("/{conversation_id}")
async def update_conversation(
    conversation_id: str,
    body: ConversationUpdate,
    owner: Owner,
    store: StoreDep,
    catalog: CatalogDep,
) -> Conversation:
    """Rename, pin or archive; choose the model (an id from `GET /api/models`, 422 for any
    other) and the conversation's own instructions. A title set here is never replaced by a
    generated one. The next reply uses the model and instructions; earlier replies keep the
    model that wrote them."""
    given = body.model_fields_set
    if body.model is not None and catalog.get(body.model) is None:
        raise HTTPException(422, f"There is no model {body.model!r} to choose from.")
    conversation = await store.update_conversation(
        owner,
        conversation_id,
        title=body.title,
        pinned=body.pinned,
        archived=body.archived,
        model=body.model if "model" in given else UNSET,
        instructions=body.instructions if "instructions" in given else UNSET,
        tools_off=body.tools_off if "tools_off" in given else UNSET,
    )
    if conversation is None:
        raise HTTPException(404, NOT_FOUND)
    return conversation


@router.put(
    "/{conversation_id}/branch",
    responses={
        404: {"description": "No such conversation or message."},
        409: {"description": "A reply is being generated in this conversation."},
    },
)
async def switch_branch(
    conversation_id: str, body: MessageRef, owner: Owner, store: StoreDep
) -> Conversation:
    """Show the newest branch through a message (a version picked in the switcher, or a
    search hit): the page, other devices and the model's history follow it. 409 while a reply
    is being generated."""
    conversation = await store.switch_branch(owner, conversation_id, body.message_id)
    if conversation is None:
        raise HTTPException(404, NOT_FOUND)
    return conversation


@router.post(
    "/{conversation_id}/fork",
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "No such conversation or message."},
        409: {"description": "A reply is being generated in this conversation."},
    },
)
async def fork_conversation(
    conversation_id: str, body: MessageRef, owner: Owner, store: StoreDep
) -> Conversation:
    """A new conversation holding a copy of the branch up to and including the message."""
    conversation = await store.fork(owner, conversation_id, body.message_id)
    if conversation is None:
        raise HTTPException(404, NOT_FOUND)
    return conversation


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(conversation_id: str, owner: Owner, runs: RunsDep) -> Response:
    if not await runs.delete_conversation(owner, conversation_id):
        raise HTTPException(404, NOT_FOUND)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
