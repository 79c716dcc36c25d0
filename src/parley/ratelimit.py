"""Sliding-window counters for login attempts (per account, per client address)."""

from __future__ import annotations

import time
from collections import deque

# Failed logins are counted over this window (PARLEY_LOGIN_ATTEMPTS per account, and
# PARLEY_LOGIN_ATTEMPTS_PER_ADDRESS per client address).
LOGIN_WINDOW_SECONDS = 15 * 60.0


class SlidingWindow:
    """At most `limit` events per `window` seconds for each key, in this process's memory."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float | None:
        """Seconds until `key` may try again, or None if it may now."""
        events = self._events.get(key)
        if not events:
            return None
        cutoff = time.monotonic() - self.window
        while events and events[0] <= cutoff:
            events.popleft()
        if len(events) < self.limit:
            return None
        return events[0] + self.window - time.monotonic()

    def record(self, key: str) -> None:
        self._events.setdefault(key, deque()).append(time.monotonic())

    def reset(self, key: str) -> None:
        self._events.pop(key, None)
