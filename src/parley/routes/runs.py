"""/api/runs/{id}: attach to a reply being generated, or stop it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, status
from fastapi.sse import EventSourceResponse

from ..deps import Owner, RunsDep

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
    after: Annotated[int | None, Query(ge=-1)] = None,
    last_event_id: Annotated[int | None, Header(ge=-1)] = None,
) -> EventSourceResponse:
    start = after if after is not None else last_event_id if last_event_id is not None else -1
    frames = await runs.frames(owner, run_id, start)
    return EventSourceResponse(
        frames, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.post("/stop", status_code=status.HTTP_202_ACCEPTED)
async def stop_run(run_id: str, owner: Owner, runs: RunsDep) -> dict[str, str]:
    stopping = await runs.stop(owner, run_id)
    return {"status": "stopping" if stopping else "stopped"}
