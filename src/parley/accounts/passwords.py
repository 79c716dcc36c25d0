"""Password hashing (argon2id), off the event loop.

An argon2 check takes 100–250 ms of CPU at production cost. Run on the event loop, a burst of
failed logins would stall every other request and stream for seconds; so hashing runs in worker
threads (argon2-cffi releases the GIL), and at most `concurrency` at once, so a burst queues
instead of taking every core. The cost parameters are settings: tests use a cheap one.
"""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(
        self, *, time_cost: int = 3, memory_cost: int = 65536, concurrency: int = 2
    ) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="parley-argon2")
        # Verified against when the name is unknown, so a wrong name costs as long as a wrong
        # password. Made on first use, not at import.
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`; with no stored hash, as slow as a wrong one."""
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            stored = self._dummy
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._check, stored, password)

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
