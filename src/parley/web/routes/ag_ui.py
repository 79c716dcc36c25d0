"""/api/ag-ui: Parley as an AG-UI agent (an `HttpAgent` of `@ag-ui/client`, CopilotKit).

The thread id is a Parley conversation of the caller's (404 otherwise, exactly like an id that
never existed); each run is a Parley run, saved however it ends, stopped only by
`POST /api/runs/{run_id}/stop` (Parley's run id is in `RUN_STARTED`'s metadata). The
translation is runs/protocols/ag_ui.py; this module parses and answers.
"""

from __future__ import annotations

from typing import Any

from ag_ui.core import RunAgentInput
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from ...runs.protocols import ag_ui
from ...runs.protocols.ag_ui import EventStream, InvalidInput, Send
from ...runs.run import Run
from .. import sse
from ..deps import AgentDeps, Owner, RunsDep, SettingsDep, StoreDep
from ..schemas import SendMessage
from .conversations import NOT_FOUND

_STREAM_DOC: dict[str, Any] = {
    "description": "AG-UI events (Server-Sent Events), see docs/protocol.md.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

# The messages a snapshot holds: the newest of the branch (older ones: Parley's own API).
_PAGE = 500

router = APIRouter(prefix="/ag-ui", tags=["ag-ui"])


@router.post(
    "",
    responses={
        200: _STREAM_DOC,
        404: {"description": "No such conversation (thread) of the caller's."},
        409: {"description": "A reply is already being generated, or nothing waits to resume."},
        413: {"description": "The prompt is too long."},
        422: {"description": "The last message is not the user's, or a resume entry is wrong."},
    },
)
async def run_agent(
    body: RunAgentInput,
    owner: Owner,
    runs: RunsDep,
    store: StoreDep,
    settings: SettingsDep,
    deps: AgentDeps,
) -> StreamingResponse:
    """Run the agent on the thread: the last message's prompt, or, with `resume`, the answers
    to the interrupts (tool calls waiting for approval) the thread's last reply ended on.
    Earlier messages, `state`, `context`, `tools` and `forwardedProps` are ignored: the
    conversation's history and instructions are Parley's, and a MESSAGES_SNAPSHOT after
    RUN_STARTED gives the client the thread as Parley has it."""
    try:
        asked = ag_ui.intent(body)
    except InvalidInput as exc:
        raise HTTPException(422, str(exc)) from None
    cid = body.thread_id
    # The thread before this run, for the snapshot the client's messages are replaced with.
    before = await store.list_messages(owner, cid, _PAGE)
    if before is None:
        raise HTTPException(404, NOT_FOUND)
    run: Run | None
    if isinstance(asked, Send):
        try:
            prompt = SendMessage(prompt=asked.prompt)
        except ValidationError:
            raise HTTPException(
                422, "The message is empty or holds text Parley cannot take."
            ) from None
        if len(prompt.prompt) > settings.max_prompt_chars:
            raise HTTPException(
                413, f"The message is longer than {settings.max_prompt_chars} characters."
            )
        run = await runs.start(owner, cid, prompt.prompt, deps=deps)
    else:
        if not before.items:
            raise HTTPException(409, "Nothing in this conversation waits for an answer.")
        # The reply waiting is the branch's last message; Runs.resume checks that it waits.
        run = await runs.resume(owner, cid, before.items[-1].id, asked.decisions, deps)
    if run is None:
        raise HTTPException(404, NOT_FOUND)
    stream = EventStream(
        cid,
        body.run_id,
        cancelled_outcome=ag_ui.declares_1_0(body),
        history=ag_ui.messages(before.items),
    )
    return StreamingResponse(
        ag_ui.frames(run.batches(), stream), media_type="text/event-stream", headers=sse.HEADERS
    )


@router.get("/{thread_id}/messages", responses={404: {"description": "No such conversation."}})
async def thread_messages(thread_id: str, owner: Owner, store: StoreDep) -> JSONResponse:
    """The thread's branch as AG-UI messages, for `new HttpAgent({threadId, initialMessages})`
    on a page load: the newest 500; a reply being generated is left out."""
    page = await store.list_messages(owner, thread_id, _PAGE)
    if page is None:
        raise HTTPException(404, NOT_FOUND)
    return JSONResponse(
        [
            m.model_dump(mode="json", by_alias=True, exclude_none=True)
            for m in ag_ui.messages(page.items)
        ]
    )
