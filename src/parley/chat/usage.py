"""What replies used and cost: the ledger each saved reply adds to, the totals read from it,
and the daily budget it decides.

Every figure comes from the `usage_ledger` table, one row per owner, UTC day, conversation and
model, added to in the transaction that saves the reply. So a budget holds across processes (it
is read where the next reply is decided), reports cost a few rows whatever the history, and
what was spent stays spent when a conversation is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db.tables import usage_ledger
from .models import Usage

GroupBy = Literal["model", "day", "user"]
_SUMMED = ("replies", "input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens")


@dataclass(frozen=True)
class Totals:
    """Usage added up. `cost` is the priced replies' (None if none was priced); `unpriced`
    counts replies whose model has no known price, so a total is never a false 0."""

    replies: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal | None = None
    unpriced: int = 0
    key: str | None = None  # the model, day or user of a group


class OverBudget(Exception):
    """The owner spent their daily budget; `resets_at` is the next UTC midnight."""

    def __init__(self, budget: Decimal, resets_at: datetime) -> None:
        super().__init__(f"daily budget of ${budget} reached")
        self.budget = budget
        self.resets_at = resets_at


def today(at: datetime) -> date:
    return at.astimezone(UTC).date()


async def record(
    conn: AsyncConnection,
    owner: str,
    conversation_id: str,
    model: str,
    usage: Usage,
    at: datetime,
) -> None:
    """Add one reply's usage to the ledger (in the transaction that saves the reply)."""
    priced = usage.cost is not None
    row = {
        "owner_id": owner,
        "day": today(at),
        "conversation_id": conversation_id,
        "model": model[:200],
        "replies": 1,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        # Through str: the float in a reply's usage is the Decimal Pydantic AI computed.
        "cost": Decimal(str(usage.cost)) if priced else Decimal(0),
        "unpriced": 0 if priced else 1,
    }
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    statement = insert(usage_ledger).values(**row)
    added = {
        name: usage_ledger.c[name] + statement.excluded[name]
        for name in (*_SUMMED, "cost", "unpriced")
    }
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["owner_id", "day", "conversation_id", "model"], set_=added
        )
    )


async def check_budget(conn: AsyncConnection, owner: str, budget: Decimal, at: datetime) -> None:
    """Raise OverBudget if the owner's priced replies today add up to `budget` or more. Run
    inside the transaction that starts a reply, under the owner's lock."""
    spent = await conn.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(usage_ledger.c.cost), 0)).where(
            usage_ledger.c.owner_id == owner, usage_ledger.c.day == today(at)
        )
    )
    if Decimal(spent or 0) >= budget:
        midnight = datetime.combine(today(at) + timedelta(days=1), time(), tzinfo=UTC)
        raise OverBudget(budget, midnight)


async def totals(
    engine: AsyncEngine,
    *,
    owner: str | None = None,
    conversation_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
    group_by: GroupBy | None = None,
) -> list[Totals]:
    """Usage added up (one total, or one per model, day or user), for an owner (None: every
    owner), optionally one conversation and the UTC days `start` to `end` included."""
    ledger = usage_ledger.c
    where = []
    if owner is not None:
        where.append(ledger.owner_id == owner)
    if conversation_id is not None:
        where.append(ledger.conversation_id == conversation_id)
    if start is not None:
        where.append(ledger.day >= start)
    if end is not None:
        where.append(ledger.day <= end)
    key_column = {"model": ledger.model, "day": ledger.day, "user": ledger.owner_id}.get(
        group_by or ""
    )
    sums = [sa.func.coalesce(sa.func.sum(ledger[name]), 0).label(name) for name in _SUMMED]
    cost = sa.func.coalesce(sa.func.sum(ledger.cost), 0).label("cost")
    priced = sa.func.coalesce(sa.func.sum(ledger.replies - ledger.unpriced), 0).label("priced")
    unpriced = sa.func.coalesce(sa.func.sum(ledger.unpriced), 0).label("unpriced")
    columns = [*sums, cost, priced, unpriced]
    if key_column is None:
        query = sa.select(*columns).where(*where)
    else:
        query = sa.select(key_column.label("key"), *columns).where(*where)
        query = query.group_by(key_column).order_by(key_column)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    found = [
        Totals(
            **{name: int(row[name]) for name in _SUMMED},
            cost=Decimal(row["cost"]) if row["priced"] else None,
            unpriced=int(row["unpriced"]),
            key=str(row["key"]) if key_column is not None else None,
        )
        for row in rows
    ]
    return [t for t in found if t.replies] if key_column is not None else found
