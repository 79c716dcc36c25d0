"""/api/conversations/{id}/messages: list the branch; send, edit or regenerate (answers SSE)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse

from ...chat.files import FileRefused
from ...chat.models import Message
from ...runs.run import Run
from ...settings import Settings
from .. import sse
from ..deps import AgentDeps, Owner, RunsDep, SettingsDep, StoreDep
from ..schemas import AnswerToolCalls, MessagePage, SendMessage
from .conversations import NOT_FOUND

_SSE_DOC: dict[str, Any] = {
    "description": "Server-Sent Events, see docs/protocol.md.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

router = APIRouter(prefix="/conversations/{conversation_id}/messages", tags=["messages"])


_CURSOR = Query(max_length=64)
_BUSY = {"description": "A reply is already being generated in this conversation."}


@router.get("", response_model=MessagePage)
async def list_messages(
    conversation_id: str,
    owner: Owner,
    store: StoreDep,
    runs: RunsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[str | None, _CURSOR] = None,
    after: Annotated[str | None, _CURSOR] = None,
    around: Annotated[str | None, _CURSOR] = None,
) -> JSONResponse:
    """A page of the current branch, oldest first: the newest messages; or those `before` or
    `after` a message; or those `around` one (a search hit: switch to its branch first).
    `context_start_id`: the first message the model receives on the next turn when older
    ones do not fit its context window (null: all of them are sent); `context_empty`: none of
    them fits, and the next prompt is sent alone."""
    if sum(c is not None for c in (before, after, around)) > 1:
        raise HTTPException(422, "Give at most one of before, after and around.")
    page = await store.list_messages(
        owner,
        conversation_id,
        limit,
        before=before,
        after=after,
        around=around,
        answering=runs.answering,
    )
    if page is None:
        raise HTTPException(404, NOT_FOUND)
    # Message.wire, documented as ListedMessage: each text once.
    return JSONResponse(
        {
            "items": [m.wire() for m in page.items],
            "next_cursor": page.next_cursor,
            "newer_cursor": page.newer_cursor,
            "context_start_id": page.context_start_id,
            "context_empty": page.context_empty,
        }
    )


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
        413: {"description": "The prompt is too long, or carries too many files."},
        415: {"description": "A file the conversation's model cannot take (an image)."},
    },
)
async def send_message(
    conversation_id: str,
    body: SendMessage,
    owner: Owner,
    runs: RunsDep,
    settings: SettingsDep,
    deps: AgentDeps,
) -> EventSourceResponse:
    _check_length(body, settings)
    try:
        run = await runs.start(owner, conversation_id, body.prompt, files=body.files, deps=deps)
    except FileRefused as exc:
        raise HTTPException(exc.status, exc.detail) from None
    return _events(run)


@router.post(
    "/{message_id}/edit",
    responses={
        200: _SSE_DOC,
        404: {"description": "No such conversation or message."},
        409: _BUSY,
        413: {"description": "The prompt is too long, or carries too many files."},
        415: {"description": "A file the conversation's model cannot take (an image)."},
        422: {"description": "The message is a reply, not a prompt."},
    },
)
async def edit_message(
    conversation_id: str,
    message_id: str,
    body: SendMessage,
    owner: Owner,
    runs: RunsDep,
    settings: SettingsDep,
    deps: AgentDeps,
) -> EventSourceResponse:
    """Send a new version of a prompt: a sibling of it, answered on a new branch (the old
    versions stay, reachable with PUT …/branch). Same events as sending."""
    _check_length(body, settings)
    try:
        run = await runs.start(
            owner, conversation_id, body.prompt, edit_of=message_id, files=body.files, deps=deps
        )
    except FileRefused as exc:
        raise HTTPException(exc.status, exc.detail) from None
    return _events(run)


@router.post(
    "/{message_id}/regenerate",
    responses={
        200: _SSE_DOC,
        404: {"description": "No such conversation or message."},
        409: _BUSY,
        422: {"description": "The message is a prompt, not a reply."},
    },
)
async def regenerate_message(
    conversation_id: str, message_id: str, owner: Owner, runs: RunsDep, deps: AgentDeps
) -> EventSourceResponse:
    """Answer a reply's prompt again: a new version of the reply, beside it (failed, stopped
    and interrupted replies too). No `user` event: the prompt is the one stored."""
    run = await runs.start(owner, conversation_id, regenerate=message_id, deps=deps)
    return _events(run)


@router.post(
    "/{message_id}/approvals",
    responses={
        200: _SSE_DOC,
        404: {"description": "No such conversation or message."},
        409: {"description": "The reply waits for no answer (any more), or is being generated."},
        422: {"description": "The answers do not fit the pending calls or the tool's schema."},
    },
)
async def answer_tool_calls(
    conversation_id: str,
    message_id: str,
    body: AnswerToolCalls,
    owner: Owner,
    runs: RunsDep,
    deps: AgentDeps,
) -> EventSourceResponse:
    """Approve or deny the tool calls a reply waits on (`awaiting_approval`), every pending one
    at once; an approval may run the tool with edited `args` (checked against the tool's
    schema). The reply then goes on as a new run on the same message: same events as
    regenerating, its `start` message holding the parts so far with the decisions."""
    run = await runs.resume(owner, conversation_id, message_id, body.decisions, deps)
    return _events(run)


def _events(run: Run | None) -> EventSourceResponse:
    """A started run's events as the response; 404 if the conversation was not there."""
    if run is None:
        raise HTTPException(404, NOT_FOUND)
    return EventSourceResponse(sse.frames(run.batches()), headers=sse.HEADERS)


def _check_length(body: SendMessage, settings: Settings) -> None:
    limit = settings.max_prompt_chars
    if len(body.prompt) > limit:
        raise HTTPException(413, f"The message is longer than {limit} characters.")
    most = settings.max_files_per_message
    if len(set(body.files)) > most:
        raise HTTPException(413, f"A message may carry at most {most} files.")
