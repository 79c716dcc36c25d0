"""`GET /api/usage`: what the user's replies used and cost, by model or by day."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from ...chat.usage import totals
from ..deps import Owner, StoreDep
from ..schemas import UsageTotals

router = APIRouter(prefix="/usage", tags=["usage"])


@router.get("", responses={422: {"description": "`from` after `to`."}})
async def usage(
    owner: Owner,
    store: StoreDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    group_by: Literal["model", "day"] | None = None,
) -> list[UsageTotals]:
    """The user's usage over the UTC days `from` to `to` (both included; either may be left
    out): one total, or one per model or per day. Deleted conversations still count: what was
    spent stays spent."""
    if start is not None and end is not None and start > end:
        raise HTTPException(422, "from: the first day comes after the last (to).")
    found = await totals(store.engine, owner=owner, start=start, end=end, group_by=group_by)
    return [UsageTotals.of(t) for t in found]
