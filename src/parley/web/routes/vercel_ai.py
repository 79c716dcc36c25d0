"""/api/vercel-ai/chat: Parley as the backend of a Vercel AI SDK `useChat` (UI message stream v6).

The chat id is a Parley conversation of the caller's (404 otherwise, exactly like an id that
never existed); each request's reply is a Parley run, so it survives the client leaving, is
saved however it ends, and is stopped only by `POST /api/runs/{run_id}/stop` (the run id is in
the reply's metadata). The translation is runs/protocols/vercel_ai.py; this module parses and
answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from ...chat.files import FileRefused
from ...chat.models import Part
from ...chat.store import Store
from ...runs.protocols import vercel_ai
from ...runs.protocols.vercel_ai import Answer, ChatRequest, InvalidRequest, Send, UIMessageStream
from ...runs.run import Run
from ...runs.service import RunNotFound
from ...settings import Settings
from .. import sse
from ..deps import AgentDeps, Owner, RunsDep, SettingsDep, StoreDep
from ..mount import root
from ..schemas import SendMessage
from .conversations import NOT_FOUND

# The header the AI SDK's transport looks for, and the SSE headers of Parley's own streams.
HEADERS = {"x-vercel-ai-ui-message-stream": "v1", **sse.HEADERS}
_STREAM_DOC: dict[str, Any] = {
    "description": "The AI SDK's UI message stream (Server-Sent Events), see docs/protocol.md.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}
# The messages a page load gets: the newest of the branch (older ones: Parley's own API).
_PAGE = 500

router = APIRouter(prefix="/vercel-ai/chat", tags=["vercel-ai"])


@router.post(
    "",
    responses={
        200: _STREAM_DOC,
        404: {"description": "No such conversation (or message) of the caller's."},
        409: {"description": "A reply is already being generated, or nothing waits for approval."},
        413: {"description": "The prompt is too long, or carries too many files."},
        422: {"description": "The last message is not a prompt nor an answer to tool calls."},
    },
)
async def chat(
    body: ChatRequest,
    owner: Owner,
    runs: RunsDep,
    store: StoreDep,
    settings: SettingsDep,
    deps: AgentDeps,
) -> StreamingResponse:
    """A `useChat` request: the last message's prompt (`submit-message`), a new version of a
    reply (`regenerate-message`, `messageId` or the last reply), or the answers to the tool
    calls the last reply waits on (its `approval-responded` parts). Every earlier message the
    client sends is ignored: the conversation's history is Parley's."""
    try:
        asked = vercel_ai.intent(body)
    except InvalidRequest as exc:
        raise HTTPException(422, str(exc)) from None
    cid = body.id
    run: Run | None
    if isinstance(asked, Send):
        prompt = _prompt(asked, settings)
        try:
            run = await runs.start(owner, cid, prompt.prompt, files=prompt.files, deps=deps)
        except FileRefused as exc:
            raise HTTPException(exc.status, exc.detail) from None
    elif isinstance(asked, Answer):
        run = await runs.resume(owner, cid, asked.message_id, asked.decisions, deps)
    else:
        reply = asked.message_id or await _last_reply(store, owner, cid)
        run = await runs.start(owner, cid, regenerate=reply, deps=deps)
    if run is None:
        raise HTTPException(404, NOT_FOUND)
    stream = UIMessageStream(cid)
    return StreamingResponse(
        vercel_ai.frames(run.batches(), stream), media_type="text/event-stream", headers=HEADERS
    )


@router.get(
    "/{conversation_id}/stream",
    responses={
        200: _STREAM_DOC,
        204: {"description": "No reply is being generated in this conversation."},
        404: {"description": "No such conversation of the caller's."},
    },
)
async def reattach(conversation_id: str, owner: Owner, runs: RunsDep, store: StoreDep) -> Response:
    """The reply being generated, from its start (`useChat({resume: true})`); 204 if none."""
    conversation = await store.get_conversation(owner, conversation_id)
    if conversation is None:
        raise HTTPException(404, NOT_FOUND)
    if conversation.active_run_id is None:
        return Response(status_code=204)
    try:
        batches = await runs.batches(owner, conversation.active_run_id, -1)
    except RunNotFound:
        return Response(status_code=204)

    async def earlier(message: dict[str, Any]) -> list[Part]:
        # A run resumed after approvals goes on from the reply's saved parts, which the client
        # reattaching does not have: the first of the reply's parts now are those.
        count = len(message.get("parts", []))
        if not count:
            return []
        saved = await store.get_message(owner, conversation_id, message["id"])
        return list(saved.parts[:count]) if saved else []

    stream = UIMessageStream(conversation_id)
    return StreamingResponse(
        vercel_ai.frames(batches, stream, earlier=earlier),
        media_type="text/event-stream",
        headers=HEADERS,
    )


@router.get(
    "/{conversation_id}/messages", responses={404: {"description": "No such conversation."}}
)
async def ui_messages(
    conversation_id: str, request: Request, owner: Owner, store: StoreDep
) -> JSONResponse:
    """The conversation's branch as `UIMessage`s, for `useChat({messages})` on a page load: the
    newest 500 messages; a reply being generated is left out (reattach to get it)."""
    page = await store.list_messages(owner, conversation_id, _PAGE)
    if page is None:
        raise HTTPException(404, NOT_FOUND)
    files_url = f"{root(request.scope)}/api/files/"
    return JSONResponse(vercel_ai.ui_messages(page.items, files_url))


def _prompt(asked: Send, settings: Settings) -> SendMessage:
    """The prompt checked as Parley's own send is: its text (422), its length and files (413)."""
    try:
        prompt = SendMessage(prompt=asked.prompt, files=asked.files)
    except ValidationError:
        raise HTTPException(422, "The message is empty or holds text Parley cannot take.") from None
    if len(prompt.prompt) > settings.max_prompt_chars:
        raise HTTPException(
            413, f"The message is longer than {settings.max_prompt_chars} characters."
        )
    if len(set(prompt.files)) > settings.max_files_per_message:
        raise HTTPException(
            413, f"A message may carry at most {settings.max_files_per_message} files."
        )
    return prompt


async def _last_reply(store: Store, owner: str, conversation_id: str) -> str:
    page = await store.list_messages(owner, conversation_id, 1)
    if page is None:
        raise HTTPException(404, NOT_FOUND)
    if not page.items or page.items[-1].role != "assistant":
        raise HTTPException(422, "The conversation has no reply to generate again.")
    return page.items[-1].id
