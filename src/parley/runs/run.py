"""One reply being generated in this process: its event log and the subscribers waiting on it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic_ai import CancellationToken

from ..chat.models import Status
from ..chat.store import Turn
from .events import WireEvent

# An event with its id: its position in the run's log, counting from 0.
Numbered = tuple[int, str, dict[str, Any]]

KEEPALIVE_SECONDS = 15.0
# Let the deltas of the next few milliseconds join a batch: far fewer frames, wakes and bytes
# for a delay no reader notices.
COALESCE_SECONDS = 0.025


class Run:
    def __init__(self, run_id: str, owner: str, turn: Turn, prompt: str, deps: Any = None) -> None:
        self.id = run_id
        self.owner = owner
        self.turn = turn
        self.prompt = prompt
        # The agent's `deps` for this run: who is asking (create_app's deps factory), or None.
        self.deps = deps
        self.events: list[WireEvent] = []
        self.finished = False
        self.token = CancellationToken()
        self.stop_reason: Status = "stopped"
        self.task: asyncio.Task[None] | None = None
        # Set when the reply has content that the last checkpoint did not save.
        self.dirty = False
        # How many of `events` are in the database.
        self.persisted = 0
        # Set when generation has ended, so the checkpoint task saves once more and stops.
        self.ended = asyncio.Event()
        self._changed = asyncio.Event()

    @property
    def conversation_id(self) -> str:
        return self.turn.conversation_id

    def publish(self, name: str, data: dict[str, Any]) -> None:
        self.events.append((name, data))
        self.dirty = True
        self._wake()

    def close(self) -> None:
        self.finished = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def tick(self) -> None:
        """Wake subscribers with nothing new, so an idle stream can send its keep-alive."""
        self._wake()

    async def batches(self, after: int = -1) -> AsyncIterator[list[Numbered]]:
        """Every event with an id greater than `after`, then live ones, in batches.

        An empty batch means nothing happened for a while (a stream sends a keep-alive).
        """
        position = max(after + 1, 0)
        last_sent = time.monotonic()
        while True:
            if position < len(self.events):
                if not self.finished:
                    await asyncio.sleep(COALESCE_SECONDS)
                end = len(self.events)
                yield [(i, *self.events[i]) for i in range(position, end)]
                position = end
                last_sent = time.monotonic()
                continue
            if self.finished:
                return
            if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
                yield []
                last_sent = time.monotonic()
            await self._changed.wait()
