"""Runs in the database: what lets any Parley process sharing it watch, stop or clean up a reply.

The process generating a reply writes, at each checkpoint and never per token: the events so
far (batched), the reply's text, and a heartbeat; it reads back whether anyone asked it to
stop. Another process streams the events from the table, asks for a stop by setting a flag,
and marks replies whose process stopped beating as interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..chat.models import Part
from ..chat.store import text_of
from ..db.clock import now
from ..db.engine import write
from ..db.tables import messages, run_events, runs

Event = tuple[str, dict[str, Any]]

INTERRUPTED = "The server stopped while this reply was being generated."


@dataclass(frozen=True)
class RunRow:
    id: str
    owner_id: str
    conversation_id: str
    message_id: str
    status: str


class RunStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def checkpoint(
        self,
        run_id: str,
        message_id: str,
        parts: Sequence[Part] | None,
        events: Sequence[Event],
        first_seq: int,
    ) -> bool:
        """Save what the run has produced since the last checkpoint; True if it must stop.

        It must stop if someone asked, or if its row is gone: the conversation was deleted,
        and generating on would only spend tokens on a reply no one can see.
        """
        stamp = now()
        async with write(self.engine, queue=False) as conn:
            # The heartbeat first: it locks the run's row (a delete in another process waits,
            # or has already happened and this finds no row) before anything refers to it.
            stop = await conn.scalar(
                runs.update()
                .where(runs.c.id == run_id)
                .values(heartbeat_at=stamp)
                .returning(runs.c.stop_requested)
            )
            if stop is None:
                return True
            await _insert_events(conn, run_id, events, first_seq)
            if parts is not None:
                await conn.execute(
                    messages.update()
                    .where(messages.c.id == message_id, messages.c.status == "generating")
                    .values(
                        text=text_of(parts), parts=[p.model_dump() for p in parts], updated_at=stamp
                    )
                )
        return bool(stop)

    async def store_events(self, run_id: str, events: Sequence[Event], first_seq: int) -> None:
        """The run's last events, once it has ended (`Store.finish_turn` marked it finished);
        nothing if the run is gone with its conversation."""
        if events:
            async with write(self.engine) as conn:
                found = await conn.scalar(
                    sa.select(runs.c.id).where(runs.c.id == run_id).with_for_update()
                )
                if found is not None:
                    await _insert_events(conn, run_id, events, first_seq)

    async def get(self, owner: str, run_id: str) -> RunRow | None:
        c = runs.c
        query = sa.select(c.id, c.owner_id, c.conversation_id, c.message_id, c.status).where(
            c.id == run_id, c.owner_id == owner
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return RunRow(*row) if row else None

    async def events_after(self, run_id: str, after: int) -> tuple[list[Event], bool]:
        """Stored events with a sequence number above `after`, and whether the run finished.

        The status is read first: events stored before "finished" are all there is.
        """
        async with self.engine.connect() as conn:
            status = await conn.scalar(sa.select(runs.c.status).where(runs.c.id == run_id))
            rows = await conn.execute(
                sa.select(run_events.c.name, run_events.c.data)
                .where(run_events.c.run_id == run_id, run_events.c.seq > after)
                .order_by(run_events.c.seq)
            )
            events = [(name, json.loads(data)) for name, data in rows]
        return events, status != "running"

    async def request_stop(self, owner: str, run_id: str) -> bool:
        async with write(self.engine) as conn:
            result = await conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.owner_id == owner, runs.c.status == "running")
                .values(stop_requested=True)
            )
        return bool(result.rowcount)

    async def prune(self, finished_before: datetime) -> None:
        """Drop the events of runs that ended long ago: the saved messages are the record."""
        ended = sa.select(runs.c.id).where(
            runs.c.status == "finished", runs.c.heartbeat_at < finished_before
        )
        async with write(self.engine) as conn:
            await conn.execute(run_events.delete().where(run_events.c.run_id.in_(ended)))

    async def interrupt(
        self, *, stale_before: datetime | None = None, alive: str | None = None
    ) -> int:
        """Mark runs whose process is gone as finished, and their replies as interrupted.

        With `stale_before`, only runs whose last heartbeat is older (another process may be
        alive and beating); without, every running run (a single process starting up). Runs
        of the process `alive` (the caller's own, which it knows are alive) are never touched.
        """
        condition = runs.c.status == "running"
        if stale_before is not None:
            condition = sa.and_(condition, runs.c.heartbeat_at < stale_before)
        if alive is not None:
            condition = sa.and_(condition, runs.c.process_id != alive)
        async with write(self.engine) as conn:
            stale = (
                await conn.execute(
                    sa.select(runs.c.id, runs.c.message_id).where(condition).with_for_update()
                )
            ).all()
            for run_id, message_id in stale:
                await _interrupt_one(conn, run_id, message_id)
            # Replies left generating without a run row (written before runs were recorded).
            if stale_before is None:
                await conn.execute(
                    messages.update()
                    .where(messages.c.status == "generating")
                    .values(status="interrupted", error=INTERRUPTED, updated_at=now())
                )
        return len(stale)


async def _interrupt_one(conn: AsyncConnection, run_id: str, message_id: str) -> None:
    stamp = now()
    await conn.execute(
        messages.update()
        .where(messages.c.id == message_id, messages.c.status == "generating")
        .values(status="interrupted", error=INTERRUPTED, updated_at=stamp)
    )
    await conn.execute(
        runs.update().where(runs.c.id == run_id).values(status="finished", heartbeat_at=stamp)
    )
    # Whoever is watching the run from another process learns that it ended.
    last = await conn.scalar(
        sa.select(sa.func.coalesce(sa.func.max(run_events.c.seq), -1)).where(
            run_events.c.run_id == run_id
        )
    )
    done = {"id": message_id, "status": "interrupted", "error": INTERRUPTED, "usage": None}
    await _insert_events(
        conn, run_id, [("error", {"detail": INTERRUPTED}), ("done", done)], int(last or 0) + 1
    )


async def _insert_events(
    conn: AsyncConnection, run_id: str, events: Sequence[Event], first_seq: int
) -> None:
    if not events:
        return
    await conn.execute(
        run_events.insert(),
        [
            {
                "run_id": run_id,
                "seq": first_seq + i,
                "name": name,
                "data": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
            }
            for i, (name, data) in enumerate(events)
        ],
    )
