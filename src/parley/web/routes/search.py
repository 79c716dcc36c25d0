"""/api/search: the owner's conversations whose title or messages match, best first."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from ...chat.query import MAX_QUERY_CHARS, BadQuery, parse
from ...chat.search import search
from ..deps import Owner, StoreDep
from ..schemas import Page, SearchResult

router = APIRouter(prefix="/search", tags=["search"])

# Deeper pages than this are refused: each costs the ranking of every page before it.
_MAX_OFFSET = 1_000


@router.get(
    "",
    responses={422: {"description": "A query with no words, over 500 characters or 32 words."}},
)
async def search_conversations(
    owner: Owner,
    store: StoreDep,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[SearchResult]:
    """One result per conversation, with its best message hits (up to three) under it.

    Every word must match; the last one also as a prefix while it is being typed (no space
    after it), and `word*` anywhere; `"exact phrase"` in quotes. Other punctuation is text,
    never query syntax. Snippets and titles are HTML-escaped with hits in `<mark>`.
    """
    try:
        terms = parse(q)
    except BadQuery as exc:
        raise HTTPException(422, str(exc)) from exc
    offset = _offset(cursor)
    results, more = await search(store.engine, owner, terms, limit, offset)
    return Page(
        items=[SearchResult.model_validate(r, from_attributes=True) for r in results],
        next_cursor=_cursor(offset + limit) if more and offset + limit <= _MAX_OFFSET else None,
    )


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"search:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, number = raw.split(":", 1)
        offset = int(number)
    except ValueError:
        kind, offset = "", -1
    if kind != "search" or not 0 < offset <= _MAX_OFFSET:
        raise HTTPException(422, "cursor: not a cursor this server gave out")
    return offset
