"""Searching an owner's conversations: titles and message text, ranked by the database.

SQLite answers from its FTS5 tables (bm25), PostgreSQL from its `tsvector` columns
(`ts_rank`); both are kept in step by the database itself (migration 0005). A search is two
queries: the page of conversations, each scored by its best message hit plus its title hit
(a title hit weighs more), then the best three hits of each of those conversations only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db.clock import as_utc
from ..db.tables import conversations, messages
from .models import Conversation
from .query import Term, fts5_match, fts5_tokens, tsquery
from .rows import active_run, conversation_of
from .snippets import highlight, plain

HITS_PER_CONVERSATION = 3
# A title match counts this many times a message match of the same strength.
_TITLE_WEIGHT = 3.0
# What a snippet is cut from: a hit further in shows the message's beginning.
_SNIPPET_SOURCE_CHARS = 20_000


@dataclass(frozen=True)
class Hit:
    message_id: str
    role: Literal["user", "assistant"]
    snippet_html: str
    created_at: datetime


@dataclass(frozen=True)
class Result:
    conversation: Conversation
    title_html: str
    hits: list[Hit] = field(default_factory=list)


_SQLITE_PAGE = sa.text(f"""
    SELECT conv, coalesce(max(m), 0) + coalesce(max(t), 0) AS score FROM (
        SELECT conversation AS conv, -bm25(message_search, 0, 0, 1) AS m, NULL AS t
        FROM message_search WHERE message_search MATCH :messages
        UNION ALL
        SELECT hex(conversation_id), NULL, -{_TITLE_WEIGHT} * bm25(title_search, 0, 1)
        FROM title_search WHERE title_search MATCH :titles
    ) GROUP BY conv ORDER BY score DESC, conv LIMIT :limit OFFSET :offset
""")

_SQLITE_HITS = sa.text(f"""
    SELECT message_id, score FROM (
        SELECT message_id, score,
               row_number() OVER (PARTITION BY conversation ORDER BY score DESC) AS n
        FROM (
            SELECT message_id, conversation, -bm25(message_search, 0, 0, 1) AS score
            FROM message_search WHERE message_search MATCH :messages
        )
    ) WHERE n <= {HITS_PER_CONVERSATION}
""")

_POSTGRESQL_PAGE = sa.text(f"""
    WITH q AS (SELECT to_tsquery('simple', :query) AS q)
    SELECT conv, coalesce(max(m), 0) + coalesce(max(t), 0) AS score FROM (
        SELECT m.conversation_id AS conv, max(ts_rank(m.search, q.q)) AS m, NULL::real AS t
        FROM q, messages AS m JOIN conversations AS c ON c.id = m.conversation_id
        WHERE c.owner_id = :owner AND m.search @@ q.q
        GROUP BY m.conversation_id
        UNION ALL
        SELECT c.id, NULL, {_TITLE_WEIGHT} * ts_rank(c.search, q.q)
        FROM q, conversations AS c WHERE c.owner_id = :owner AND c.search @@ q.q
    ) AS s GROUP BY conv ORDER BY score DESC, conv LIMIT :limit OFFSET :offset
""")

_POSTGRESQL_HITS = sa.text(f"""
    WITH q AS (SELECT to_tsquery('simple', :query) AS q)
    SELECT id, score FROM (
        SELECT m.id, ts_rank(m.search, q.q) AS score,
               row_number() OVER (
                   PARTITION BY m.conversation_id ORDER BY ts_rank(m.search, q.q) DESC
               ) AS n
        FROM q, messages AS m
        WHERE m.conversation_id IN :ids AND m.search @@ q.q
    ) AS s WHERE n <= {HITS_PER_CONVERSATION}
""").bindparams(sa.bindparam("ids", expanding=True))


async def search(
    engine: AsyncEngine, owner: str, terms: list[Term], limit: int, offset: int
) -> tuple[list[Result], bool]:
    """One page of `owner`'s conversations matching every term, best first; and whether
    there are more."""
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            ids, scores = await _sqlite(conn, owner, terms, limit, offset)
        else:
            ids, scores = await _postgresql(conn, owner, terms, limit, offset)
        more = len(ids) > limit
        ids = ids[:limit]
        if not ids:
            return [], False
        rows = {
            r["id"]: r
            for r in (
                await conn.execute(
                    sa.select(conversations, active_run()).where(
                        conversations.c.owner_id == owner, conversations.c.id.in_(ids)
                    )
                )
            ).mappings()
        }
        hits = await _hit_rows(conn, scores, owner)
    by_conversation: dict[str, list[Hit]] = defaultdict(list)
    for row in hits:
        by_conversation[row["conversation_id"]].append(
            Hit(
                message_id=row["id"],
                role=row["role"],
                snippet_html=highlight(
                    plain(row["text"]) if row["role"] == "assistant" else row["text"], terms
                ),
                created_at=as_utc(row["created_at"]),
            )
        )
    results = [
        Result(
            conversation=conversation_of(rows[i]),
            title_html=highlight(rows[i]["title"], terms, width=200),
            hits=by_conversation.get(i, []),
        )
        for i in ids
        if i in rows
    ]
    return results, more


async def _sqlite(
    conn: AsyncConnection, owner: str, terms: list[Term], limit: int, offset: int
) -> tuple[list[str], dict[str, float]]:
    mine = fts5_tokens("owner", [owner])
    page = await conn.execute(
        _SQLITE_PAGE,
        {
            "messages": f"{mine} AND {fts5_match(terms, 'body')}",
            "titles": f"{mine} AND {fts5_match(terms, 'title')}",
            "limit": limit + 1,  # one more: are there more?
            "offset": offset,
        },
    )
    ids = [bytes.fromhex(conv).decode() for conv, _score in page]
    if not ids:
        return ids, {}
    hits = await conn.execute(
        _SQLITE_HITS,
        {
            "messages": f"{mine} AND {fts5_tokens('conversation', ids[:limit])} "
            f"AND {fts5_match(terms, 'body')}"
        },
    )
    return ids, {message_id: score for message_id, score in hits}


async def _postgresql(
    conn: AsyncConnection, owner: str, terms: list[Term], limit: int, offset: int
) -> tuple[list[str], dict[str, float]]:
    query = tsquery(terms)
    page = await conn.execute(
        _POSTGRESQL_PAGE, {"query": query, "owner": owner, "limit": limit + 1, "offset": offset}
    )
    ids = [conv for conv, _score in page]
    if not ids:
        return ids, {}
    hits = await conn.execute(_POSTGRESQL_HITS, {"query": query, "ids": ids[:limit]})
    return ids, {message_id: score for message_id, score in hits}


async def _hit_rows(
    conn: AsyncConnection, scores: dict[str, float], owner: str
) -> list[sa.RowMapping]:
    """The hit messages, best first; only `owner`'s, whatever the index said."""
    if not scores:
        return []
    m = messages.c
    rows = (
        (
            await conn.execute(
                sa.select(
                    m.id,
                    m.conversation_id,
                    m.role,
                    m.created_at,
                    sa.func.substr(m.text, 1, _SNIPPET_SOURCE_CHARS).label("text"),
                )
                .join(conversations, conversations.c.id == m.conversation_id)
                .where(m.id.in_(list(scores)), conversations.c.owner_id == owner)
            )
        )
        .mappings()
        .all()
    )
    return sorted(rows, key=lambda r: -scores[r["id"]])
