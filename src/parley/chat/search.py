"""Searching an owner's conversations: titles and message text, ranked by the database.

SQLite answers from its FTS5 tables (bm25), PostgreSQL from its `tsvector` columns
(`ts_rank`); both are kept in step by the database itself (migration 0005). A search is two
queries: the page of conversations, each scored by its best message hit plus its title hit
(a title hit weighs more), then the best three hits of each of those conversations only.

The work a search may cost is bounded: the message hits ranked are `CANDIDATES` of the
owner's (on SQLite the newest, newest conversations first; on PostgreSQL the first its index
yields), however many messages hold the words. Ranking all of them costs time in proportion
to how common the words are (every message holds "the"): a search as you type must not.
Titles are all ranked (one per conversation).
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
from .query import Term, fts5_match, tsquery
from .rows import active_run, conversation_of
from .snippets import highlight

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


CANDIDATES = 1_000
# Index rowids of messages: conversation rowid << SEQ_BITS | seq (migration 0005).
_SEQ_BITS = 20

_SQLITE_PAGE = sa.text(f"""
    WITH hits AS MATERIALIZED (
        SELECT ms.rowid >> {_SEQ_BITS} AS conv, -bm25(message_search) AS score
        FROM message_search AS ms JOIN conversations AS c ON c.rowid = ms.rowid >> {_SEQ_BITS}
        WHERE message_search MATCH :messages AND c.owner_id = :owner
        ORDER BY ms.rowid DESC LIMIT {CANDIDATES}
    ), titles AS MATERIALIZED (
        SELECT ts.rowid AS conv, -{_TITLE_WEIGHT} * bm25(title_search) AS score
        FROM title_search AS ts JOIN conversations AS c ON c.rowid = ts.rowid
        WHERE title_search MATCH :titles AND c.owner_id = :owner
    )
    SELECT c.id, s.score FROM (
        SELECT conv, coalesce(max(m), 0) + coalesce(max(t), 0) AS score FROM (
            SELECT conv, score AS m, NULL AS t FROM hits
            UNION ALL SELECT conv, NULL, score FROM titles
        ) GROUP BY conv
    ) AS s JOIN conversations AS c ON c.rowid = s.conv
    ORDER BY s.score DESC, c.id LIMIT :limit OFFSET :offset
""")


def _sqlite_hits(count: int) -> sa.TextClause:
    """The best hits of each of `count` conversations: one rowid range of the index each."""
    parts = [
        f"""SELECT * FROM (
            SELECT message_id, -bm25(message_search) AS score FROM message_search
            WHERE message_search MATCH :messages
              AND rowid BETWEEN (SELECT rowid FROM conversations WHERE id = :c{i}) << {_SEQ_BITS}
                  AND ((SELECT rowid FROM conversations WHERE id = :c{i}) << {_SEQ_BITS})
                      | {(1 << _SEQ_BITS) - 1}
            ORDER BY rank LIMIT {HITS_PER_CONVERSATION})"""
        for i in range(count)
    ]
    return sa.text(" UNION ALL ".join(parts))


# PostgreSQL cannot walk a GIN index newest first: its candidates are the first the index
# yields (physical order, roughly the oldest). They are matched on all the words without
# their order (answered by the index alone); a phrase is then checked on those only, since
# checking word order reads every candidate's stored positions.
_POSTGRESQL_PAGE = sa.text(f"""
    WITH q AS (SELECT to_tsquery('simple', :query) AS q, to_tsquery('simple', :words) AS w),
    candidates AS MATERIALIZED (
        SELECT m.conversation_id AS conv, m.search
        FROM q, messages AS m JOIN conversations AS c ON c.id = m.conversation_id
        WHERE c.owner_id = :owner AND m.search @@ q.w
        LIMIT {CANDIDATES}
    )
    SELECT conv, coalesce(max(m), 0) + coalesce(max(t), 0) AS score FROM (
        SELECT candidates.conv, ts_rank(candidates.search, q.q) AS m, NULL::real AS t
        FROM q, candidates WHERE NOT :phrase OR candidates.search @@ q.q
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
        -- ts_match_vq is @@ as a function: the planner then finds these conversations'
        -- messages by their index and checks each, rather than building the bitmap of
        -- every message holding the words.
        WHERE m.conversation_id IN :ids AND ts_match_vq(m.search, q.q)
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
                snippet_html=highlight(row["text"], terms, markdown=row["role"] == "assistant"),
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
    body = fts5_match(terms, "body")
    page = await conn.execute(
        _SQLITE_PAGE,
        {
            "messages": body,
            "titles": fts5_match(terms, "title"),
            "owner": owner,
            "limit": limit + 1,  # one more: are there more?
            "offset": offset,
        },
    )
    ids = [conversation_id for conversation_id, _score in page]
    if not ids:
        return ids, {}
    shown = ids[:limit]
    hits = await conn.execute(
        _sqlite_hits(len(shown)), {"messages": body} | {f"c{i}": c for i, c in enumerate(shown)}
    )
    return ids, {message_id: score for message_id, score in hits}


async def _postgresql(
    conn: AsyncConnection, owner: str, terms: list[Term], limit: int, offset: int
) -> tuple[list[str], dict[str, float]]:
    query = tsquery(terms)
    words = tsquery(
        [
            Term((w,), t.prefix and i == len(t.words) - 1)
            for t in terms
            for i, w in enumerate(t.words)
        ]
    )
    page = await conn.execute(
        _POSTGRESQL_PAGE,
        {
            "query": query,
            "words": words,
            "phrase": query != words,
            "owner": owner,
            "limit": limit + 1,
            "offset": offset,
        },
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
