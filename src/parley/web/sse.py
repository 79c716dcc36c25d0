"""Server-Sent Events framing of a run's events (docs/protocol.md, "The event stream")."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi.sse import format_sse_event

from ..runs.run import Numbered

# Consecutive deltas of these kinds can share one frame; a frame carries its last event's id.
_MERGEABLE = frozenset({"text", "thinking"})

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def frames(batches: AsyncIterator[list[Numbered]]) -> AsyncIterator[bytes]:
    """SSE frames for batches of numbered events; an empty batch becomes a keep-alive."""
    async for batch in batches:
        yield encode(batch) if batch else b": keep-alive\n\n"


def encode(events: list[Numbered]) -> bytes:
    """Frames for consecutive events, consecutive deltas merged into one frame."""
    out: list[bytes] = []
    i = 0
    while i < len(events):
        seq, name, data = events[i]
        if name in _MERGEABLE:
            j = i + 1
            while j < len(events) and events[j][1] == name:
                j += 1
            if j - i > 1:
                data = {"d": "".join(e[2]["d"] for e in events[i:j])}
                seq = events[j - 1][0]
            i = j - 1
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        out.append(format_sse_event(data_str=payload, event=name, id=str(seq)))
        i += 1
    return b"".join(out)
