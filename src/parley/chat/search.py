"""Searching an owner's conversations: titles and message text, ranked by the database.

SQLite answers from its FTS5 tables (bm25), PostgreSQL from its `tsvector` columns
(`ts_rank`); both are kept in step by the database itself (migration 0005).

A search is bounded work, whatever words it holds: the database ranks at most `CANDIDATES`
of the owner's message hits, and as many title hits (ranking every hit costs time in
proportion to how common the words are, and every message holds "the"; a search as you type
must not): on SQLite the newest, on PostgreSQL the first it finds. Parley then groups them: a
conversation scores its best message plus its title (a title hit weighs more), and shows its
best three hits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db.clock import as_utc
from ..db.tables import conversations, messages
from .models import Conversation
from .query import Term, fold, fts5_match, is_word, tsquery, whole_words
from .rows import active_run, conversation_of
from .snippets import highlight

CANDIDATES = 300
# On PostgreSQL a phrase is looked for in this many messages holding all its words.
PHRASE_WINDOW = 1_000
HITS_PER_CONVERSATION = 3
# A title match counts this many times a message match of the same strength.
_TITLE_WEIGHT = 3.0
# What a snippet is cut from: a hit further in shows the message's beginning.
_SNIPPET_SOURCE_CHARS = 20_000
# A prefix whose words are in more messages than this is looked for as its most frequent words.
_PREFIX_MESSAGES = 30_000
_MAX_COMPLETIONS = 16
# SQLite index rowids of messages: conversation rowid << _SEQ_BITS | seq (migration 0005).
_SEQ_BITS = 20


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


# A candidate: (conversation key, message key, score), keys as each database has them.
Candidate = tuple[Any, Any, float]

# CROSS JOIN makes the index the outer loop: without statistics SQLite would otherwise walk
# the owner's conversations and query the index once for each.
_SQLITE_MESSAGES = sa.text(f"""
    SELECT ms.rowid >> {_SEQ_BITS}, ms.rowid, -bm25(message_search)
    FROM message_search AS ms CROSS JOIN conversations AS c ON c.rowid = ms.rowid >> {_SEQ_BITS}
    WHERE message_search MATCH :match AND c.owner_id = :owner
    ORDER BY ms.rowid DESC LIMIT {CANDIDATES}
""")
# The index's words that a prefix begins, with the number of messages holding each
# (migration 0006). Reading the counts walks each word's list once, without positions.
_SQLITE_TERMS = sa.text(
    "SELECT term, doc FROM message_search_terms WHERE term >= :start AND term < :end"
)
_SQLITE_TITLES = sa.text(f"""
    SELECT ts.rowid, -{_TITLE_WEIGHT} * bm25(title_search)
    FROM title_search AS ts CROSS JOIN conversations AS c ON c.rowid = ts.rowid
    WHERE title_search MATCH :match AND c.owner_id = :owner
    ORDER BY ts.rowid DESC LIMIT {CANDIDATES}
""")

# PostgreSQL cannot walk a GIN index newest first (its bitmap comes in table order, so these
# are roughly the oldest), and choosing the newest among all hits reads every hit's row: the
# cost this bound exists to avoid. Candidates are matched on all the words without their
# order, which the index answers alone; a phrase is then checked on those only, since
# checking word order reads each candidate's stored positions. The tsquery is written into
# the statement (not joined from a CTE) and planned for the words given (see `_custom_plan`):
# for a word in most messages reading the table until enough match beats building the
# index's bitmap of all of them, and only the planner, knowing the word, can choose.
_POSTGRESQL_MESSAGES = sa.text(f"""
    WITH candidates AS MATERIALIZED (
        SELECT m.conversation_id, m.id, m.search
        FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id
        WHERE c.owner_id = :owner AND m.search @@ to_tsquery('simple', :words)
        LIMIT :window
    )
    SELECT conversation_id, id, ts_rank(search, to_tsquery('simple', :query))
    FROM candidates WHERE NOT :phrase OR search @@ to_tsquery('simple', :query)
    LIMIT {CANDIDATES}
""")
_POSTGRESQL_TITLES = sa.text(f"""
    SELECT c.id, {_TITLE_WEIGHT} * ts_rank(c.search, to_tsquery('simple', :query))
    FROM conversations AS c
    WHERE c.owner_id = :owner AND c.search @@ to_tsquery('simple', :query)
    LIMIT {CANDIDATES}
""")


async def search(
    engine: AsyncEngine, owner: str, terms: list[Term], limit: int, offset: int
) -> tuple[list[Result], bool]:
    """One page of `owner`'s conversations matching every term, best first; and whether
    there are more."""
    async with engine.connect() as conn:
        ask = _sqlite if conn.dialect.name == "sqlite" else _postgresql
        # A word being typed is first looked for whole: when it alone fills the candidates,
        # expanding it to every word it begins (the costly part of a prefix, and of its bm25
        # weight on SQLite) would only add weaker matches.
        whole = whole_words(terms)
        candidates, titles = await ask(conn, owner, whole or terms)
        if whole is not None and len(candidates) < CANDIDATES:
            candidates, titles = await ask(conn, owner, terms)
        else:
            terms = whole or terms
        page, more, best = _rank(candidates, titles, limit, offset)
        if not page:
            return [], False
        rows, hit_rows = await _rows(conn, owner, page, [h for c in page for h in best[c]])
    by_conversation: dict[str, list[Hit]] = defaultdict(list)
    for row in hit_rows:
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
            conversation=conversation_of(rows[key]),
            title_html=highlight(rows[key]["title"], terms, width=200),
            hits=by_conversation.get(rows[key]["id"], []),
        )
        for key in page
        if key in rows
    ]
    return results, more


def _rank(
    candidates: list[Candidate], titles: dict[Any, float], limit: int, offset: int
) -> tuple[list[Any], bool, dict[Any, list[Any]]]:
    """The page of conversation keys, best first; whether there are more; each one's best
    message keys."""
    hits: dict[Any, list[tuple[float, Any]]] = defaultdict(list)
    for conversation, message, score in candidates:
        hits[conversation].append((score, message))
    scores = {c: max(s for s, _ in found) for c, found in hits.items()}
    for conversation, score in titles.items():
        scores[conversation] = scores.get(conversation, 0.0) + score
    ranked = sorted(scores, key=lambda c: (-scores[c], str(c)))
    page = ranked[offset : offset + limit]
    best = {
        c: [m for _, m in sorted(hits.get(c, []), key=lambda h: -h[0])[:HITS_PER_CONVERSATION]]
        for c in page
    }
    return page, len(ranked) > offset + limit, best


async def _sqlite(
    conn: AsyncConnection, owner: str, terms: list[Term]
) -> tuple[list[Candidate], dict[Any, float]]:
    completions = {t: words for t in terms if t.prefix and (words := await _completions(conn, t))}
    found = await conn.execute(
        _SQLITE_MESSAGES, {"match": fts5_match(terms, "body", completions), "owner": owner}
    )
    titles = await conn.execute(
        _SQLITE_TITLES, {"match": fts5_match(terms, "title"), "owner": owner}
    )
    return [(c, m, s) for c, m, s in found], {c: s for c, s in titles}


async def _completions(conn: AsyncConnection, term: Term) -> list[str] | None:
    """The words to look for in place of a prefix term's last word, or None for the prefix
    itself: when the words it begins are in more than `_PREFIX_MESSAGES` messages, the most
    frequent of them until they are in `CANDIDATES`.

    FTS5 answers a prefix by merging the lists of every word it begins, and bm25 weighs it by
    counting them all again: for the first letters of a word in most messages that is most of
    a search's time, spent on hits beyond the few hundred ranked."""
    start = fold(term.words[-1])
    found = await conn.execute(_SQLITE_TERMS, {"start": start, "end": start + "\U0010ffff"})
    words = sorted(found.all(), key=lambda row: -int(row[1]))
    if sum(int(count) for _, count in words) <= _PREFIX_MESSAGES:
        return None
    chosen: list[str] = []
    held = 0
    for word, count in words[:_MAX_COMPLETIONS]:
        if not is_word(word):
            continue
        chosen.append(word)
        held += int(count)
        if held >= CANDIDATES:
            break
    return chosen or None


async def _postgresql(
    conn: AsyncConnection, owner: str, terms: list[Term]
) -> tuple[list[Candidate], dict[Any, float]]:
    query = tsquery(terms)
    words = tsquery(
        [
            Term((w,), t.prefix and i == len(t.words) - 1)
            for t in terms
            for i, w in enumerate(t.words)
        ]
    )
    await _custom_plan(conn)
    found = await conn.execute(
        _POSTGRESQL_MESSAGES,
        {
            "query": query,
            "words": words,
            "phrase": query != words,
            "window": PHRASE_WINDOW if query != words else CANDIDATES,
            "owner": owner,
        },
    )
    titles = await conn.execute(_POSTGRESQL_TITLES, {"query": query, "owner": owner})
    return [(c, m, s) for c, m, s in found], {c: s for c, s in titles}


async def _custom_plan(conn: AsyncConnection) -> None:
    """Plan this transaction's statements for their values: asyncpg prepares statements, and
    after five runs PostgreSQL may keep one generic plan, the same for a word in every message
    and for a word in three."""
    await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


async def _rows(
    conn: AsyncConnection, owner: str, page: list[Any], hits: list[Any]
) -> tuple[dict[Any, sa.RowMapping], list[sa.RowMapping]]:
    """The page's conversations by key, and the hit messages (best first), only `owner`'s
    whatever the index said. Keys are rowids on SQLite, ids on PostgreSQL."""
    sqlite = conn.dialect.name == "sqlite"
    key = sa.literal_column("conversations.rowid") if sqlite else conversations.c.id
    found = await conn.execute(
        sa.select(conversations, active_run(), key.label("key")).where(
            conversations.c.owner_id == owner, key.in_(page)
        )
    )
    rows = {r["key"]: r for r in found.mappings()}
    if not hits:
        return rows, []
    m = messages.c
    columns = [
        m.id,
        m.conversation_id,
        m.role,
        m.created_at,
        sa.func.substr(m.text, 1, _SNIPPET_SOURCE_CHARS).label("text"),
    ]
    owned = [r["id"] for r in rows.values()]
    if sqlite:
        # Index rowid -> (conversation rowid, seq) -> message, by the (conversation_id, seq)
        # index; only the page's conversations, which are the owner's.
        by_key = {r["key"]: r["id"] for r in rows.values()}
        pairs = [
            (by_key[h >> _SEQ_BITS], h & ((1 << _SEQ_BITS) - 1))
            for h in hits
            if h >> _SEQ_BITS in by_key
        ]
        condition = (
            sa.or_(*(sa.and_(m.conversation_id == c, m.seq == seq) for c, seq in pairs))
            if pairs
            else sa.false()
        )
        order = {pair: i for i, pair in enumerate(pairs)}
        found_hits = (
            (await conn.execute(sa.select(*columns, m.seq).where(condition))).mappings().all()
        )
        return rows, sorted(found_hits, key=lambda r: order[(r["conversation_id"], r["seq"])])
    order = {h: i for i, h in enumerate(hits)}
    found_hits = (
        (
            await conn.execute(
                sa.select(*columns).where(m.id.in_(hits), m.conversation_id.in_(owned))
            )
        )
        .mappings()
        .all()
    )
    return rows, sorted(found_hits, key=lambda r: order[r["id"]])
