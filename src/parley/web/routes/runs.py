"""/api/runs/{id}: attach to a reply being generated, or stop it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, status
from fastapi.sse import EventSourceResponse

from .. import sse
from ..deps import Owner, RunsDep

# Event ids are positions in one run's log: anything larger is not an id this server gave.
_MAX_EVENT_ID = 2**31 - 1

_SSE_DOC: dict[str, Any] = {
    "description": "Server-Sent Events, see docs/protocol.md.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

router = APIRouter(prefix="/runs/{run_id}", tags=["runs"])


@router.get(
    "/events",
    responses={200: _SSE_DOC, 404: {"description": "No such reply is being generated."}},
)
async def run_events(
    run_id: str,
    owner: Owner,
    runs: RunsDep,
    after: Annotated[int | None, Query(ge=-1, le=_MAX_EVENT_ID)] = None,
    last_event_id: Annotated[int | None, Header(ge=-1, le=_MAX_EVENT_ID)] = None,
) -> EventSourceResponse:
    start = after if after is not None else last_event_id if last_event_id is not None else -1
    batches = await runs.batches(owner, run_id, start)
    return EventSourceResponse(sse.frames(batches), headers=sse.HEADERS)


@router.post("/stop", status_code=status.HTTP_202_ACCEPTED)
async def stop_run(run_id: str, owner: Owner, runs: RunsDep) -> dict[str, str]:
    stopping = await runs.stop(owner, run_id)
    return {"status": "stopping" if stopping else "stopped"}
