"""Failed-login limits, in the database so that they hold across processes and under a burst.

An attempt takes its place in the count before the password is checked (the check is the slow
part, and the limit is there to bound how many checks an attacker gets): counting and recording
happen in one write transaction that holds a lock on each key, so thirty simultaneous attempts
against a limit of five get five checks, in one process or spread over several. A successful
login gives its place back and clears the account's count.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ..db.clock import as_utc, now
from ..db.engine import lock_key, write
from ..db.ids import new_id
from ..db.tables import login_attempts

# Failed logins are counted over this window (PARLEY_LOGIN_ATTEMPTS per account, and
# PARLEY_LOGIN_ATTEMPTS_PER_ADDRESS per client address).
LOGIN_WINDOW = timedelta(minutes=15)


class TooManyAttempts(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class LoginLimits:
    def __init__(self, engine: AsyncEngine, per_account: int, per_address: int) -> None:
        self.engine = engine
        self.limits = {"account": per_account, "address": per_address}

    async def reserve(self, account: str, address: str) -> list[str]:
        """Count an attempt against both keys; raises TooManyAttempts if either is at its
        limit. Returns the ids of the recorded attempts (for `release`)."""
        keys = sorted([f"account:{account}", f"address:{address}"])  # one lock order
        stamp = now()
        since = stamp - LOGIN_WINDOW
        ids: list[str] = []
        async with write(self.engine) as conn:
            for key in keys:
                await lock_key(conn, f"login:{key}")
            for key in keys:
                c = login_attempts.c
                await conn.execute(login_attempts.delete().where(c.key == key, c.at <= since))
                row = (
                    await conn.execute(
                        sa.select(sa.func.count(), sa.func.min(c.at)).where(c.key == key)
                    )
                ).one()
                count, oldest = row[0] or 0, row[1]
                if count >= self.limits[key.split(":", 1)[0]]:
                    wait = (as_utc(oldest) + LOGIN_WINDOW - stamp).total_seconds()
                    raise TooManyAttempts(max(wait, 1.0))
                ids.append(new_id())
            await conn.execute(
                login_attempts.insert(),
                [{"id": i, "key": k, "at": stamp} for i, k in zip(ids, keys, strict=True)],
            )
        return ids

    async def succeeded(self, account: str, attempt_ids: list[str]) -> None:
        """A login succeeded: its attempt does not count, and the account starts afresh."""
        c = login_attempts.c
        async with write(self.engine) as conn:
            await conn.execute(
                login_attempts.delete().where(
                    sa.or_(c.id.in_(attempt_ids), c.key == f"account:{account}")
                )
            )
