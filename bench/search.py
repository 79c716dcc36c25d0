"""Search at scale: `python -m bench.search` (about ten minutes on 2 cores) or `--quick`
(500 conversations, SQLite and PostgreSQL in about a minute; `--database sqlite` for one).

10,000 conversations and 200,000 messages of generated text with a word-frequency-shaped
vocabulary, written at revision 0004 on a SQLite file and on a new PostgreSQL database; then
- the migration to head timed: the search index built from the stored text (and every
  conversation and message checked to be still there after it);
- searches timed through a real `parley serve` (`GET /api/search`, one request at a time);
- CPU per turn against a second server on a copy of the database whose index upkeep is
  dropped (SQLite's triggers; PostgreSQL's generated columns and GIN indexes), rounds of
  turns alternating between the two; and the same writes alone, in this process.
What the columns mean: docs/benchmarks.md, "Search".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import math
import os
import platform
import random
import secrets
import shlex
import signal
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from tests.support import paced_agents
from tests.support.client import aiter_frames
from tests.support.databases import POSTGRES_ENV, engine_on, sqlite_url
from tests.support.processes import Server, servers

from parley.db.migrate import alembic_config, upgrade
from parley.web.deps import LOCAL_OWNER

from .table import table

Backend = Literal["sqlite", "postgresql"]
BACKENDS: list[Backend] = ["sqlite", "postgresql"]
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
# The revision the data is written at: the one before the search index.
BEFORE_INDEX = "0004"
# A fast stand-in model for the turns whose CPU is measured: a ~600-character markdown reply
# streamed with no pause, so a turn is mostly Parley's own work.
AGENT = "tests.support.paced_agents:quick_agent"
SEED = 10
# A search that takes longer than this is a failure to report, not a figure.
SEARCH_TIMEOUT = httpx.Timeout(120.0)
TURN_TIMEOUT = httpx.Timeout(60.0)


@dataclass(frozen=True)
class Plan:
    conversations: int
    messages: int
    samples: int  # timed requests per query, after `warmups`
    warmups: int
    rounds: int  # of turns on each server, alternating (CPU per turn)
    turns: int  # per round
    direct: int  # turns written directly, with and without the index each


FULL = Plan(10_000, 200_000, samples=50, warmups=5, rounds=10, turns=20, direct=3_000)
QUICK = Plan(500, 10_000, samples=10, warmups=2, rounds=2, turns=3, direct=50)
PAGE = 20  # conversations a search asks for
# No query's samples take longer than this (at least 5 are taken): a pathological query is
# reported with fewer samples rather than holding the run up for many minutes.
QUERY_BUDGET = 30.0


# -- Text ------------------------------------------------------------------------------------

# Pseudo-words: consonant-vowel syllables ending in "a" or "o". No English stop word and no
# stemmer suffix has that shape, and no word is a prefix of another (see _vocabulary), so the
# matches counted here while writing the text are exactly what a search should find, whatever
# tokenizer or stemmer a database uses.
_CONSONANTS = "bdfgklmnprtvz"
_VOWELS = "aiou"
_LAST_VOWELS = "ao"
# Zipf–Mandelbrot: the word of rank r (from 1) has weight 1 / (r + 2.7), as in English text.
_ZIPF_SHIFT = 2.7
CORE_WORDS = 6_000
# A quarter of the messages carry one rare word (a name, an identifier) from a pool with about
# one occurrence per word: what a real history's long tail looks like.
RARE_SHARE = 0.25
USER_WORDS = (5, 60)
REPLY_WORDS = (30, 300)
TITLE_WORDS = 6
NO_HITS = "xylofon"  # no x or y in the alphabet: matches nothing, not even as a prefix


@dataclass(frozen=True)
class Vocabulary:
    words: list[str]  # by rank, the most frequent first
    cumulative: list[float]  # Zipf weights, summed
    rare: list[str]

    def probability(self, rank: int) -> float:
        return 1 / (rank + 1 + _ZIPF_SHIFT) / self.cumulative[-1]


def _vocabulary(rng: random.Random, core: int, rare: int) -> Vocabulary:
    """`core` ranked words (the frequent ones shorter, as in real languages) and `rare` ones,
    none a prefix of another."""
    taken: set[str] = set()
    prefixes: set[str] = set()

    def fresh(syllables: int) -> str:
        while True:
            letters = []
            for i in range(syllables):
                letters.append(rng.choice(_CONSONANTS))
                letters.append(rng.choice(_LAST_VOWELS if i == syllables - 1 else _VOWELS))
            word = "".join(letters)
            heads = [word[:i] for i in range(1, len(word))]
            if word in taken or word in prefixes or any(h in taken for h in heads):
                continue
            taken.add(word)
            prefixes.update(heads)
            return word

    words = [fresh(2 if r < 200 else 3 if r < 2_000 else 4) for r in range(core)]
    weights = [1 / (r + 1 + _ZIPF_SHIFT) for r in range(core)]
    rare_words = [fresh(rng.choice((4, 5))) for _ in range(rare)]
    return Vocabulary(words, list(itertools.accumulate(weights)), rare_words)


def _expected_share(p: float) -> float:
    """The share of messages that hold a word of probability `p` at least once."""
    users = statistics.fmean(1 - (1 - p) ** n for n in range(USER_WORDS[0], USER_WORDS[1] + 1))
    replies = statistics.fmean(1 - (1 - p) ** n for n in range(REPLY_WORDS[0], REPLY_WORDS[1] + 1))
    return (users + replies) / 2


def _rank_near(vocabulary: Vocabulary, share: float, used: set[int]) -> int:
    """The rank of the word whose expected share of messages is nearest `share`."""
    ranks = [r for r in range(len(vocabulary.words)) if r not in used]
    rank = min(ranks, key=lambda r: abs(_expected_share(vocabulary.probability(r)) - share))
    used.add(rank)
    return rank


def _prose(rng: random.Random, words: list[str], reply: bool) -> str:
    """Sentences of 4 to 16 words; a reply in paragraphs of about four sentences."""
    sentences = []
    i = 0
    while i < len(words):
        k = rng.randint(4, 16)
        end = "." if reply or rng.random() < 0.6 else "?"
        sentences.append(" ".join(words[i : i + k]).capitalize() + end)
        i += k
    if not reply:
        return " ".join(sentences)
    return "\n\n".join(" ".join(sentences[j : j + 4]) for j in range(0, len(sentences), 4))


Matcher = Callable[[set[str], str], bool]


@dataclass
class Query:
    label: str
    text: str  # as typed in the search box: the last word also matches as a prefix
    messages: int = 0
    conversations: set[int] = field(default_factory=set)


@dataclass
class Corpus:
    # (id, title, current_leaf_id, created_at, updated_at)
    conversations: list[tuple[str, str, str, datetime, datetime]]
    # (id, conversation_id, parent_id, seq, role, text, created_at)
    messages: list[tuple[str, str, str | None, int, str, str, datetime]]
    queries: list[Query]
    words: int
    vocabulary: Vocabulary

    def share(self, query: Query) -> float:
        return query.messages / len(self.messages)


def _queries(vocabulary: Vocabulary) -> list[tuple[Query, Matcher]]:
    """The queries, chosen by rank before the text is written (the rare word after), each with
    how to tell a message it matches: the words of the message as a set, and as one string."""
    words = vocabulary.words
    used: set[int] = set()
    common = words[_rank_near(vocabulary, 0.10, used)]
    other = words[_rank_near(vocabulary, 0.20, used)]
    phrase = (words[_rank_near(vocabulary, 0.40, used)], words[_rank_near(vocabulary, 0.30, used)])
    typed = words[_rank_near(vocabulary, 0.01, used)][:3]
    starts = frozenset(w for w in [*words, *vocabulary.rare] if w.startswith(typed))
    # The costliest prefix: the first 3 letters of the word in most messages.
    top_typed = words[0][:3]
    top_starts = frozenset(w for w in [*words, *vocabulary.rare] if w.startswith(top_typed))
    top = words[0]
    quoted = f" {phrase[0]} {phrase[1]} "
    return [
        (Query("common word", common), lambda s, _: common in s),
        (Query("most frequent word", top), lambda s, _: top in s),
        (Query("two words", f"{other} {common}"), lambda s, _: other in s and common in s),
        (Query("prefix, 3 letters", typed), lambda s, _: not starts.isdisjoint(s)),
        (Query("prefix of the top word", top_typed), lambda s, _: not top_starts.isdisjoint(s)),
        # One letter typed is a whole word (chat/query.py): no pseudo-word is one letter long.
        (Query("one letter", top[0]), lambda s, _: top[0] in s),
        (Query("phrase", f'"{phrase[0]} {phrase[1]}"'), lambda _, plain: quoted in plain),
        (Query("no hits", NO_HITS), lambda s, _: False),
    ]


def _turns(rng: random.Random, plan: Plan) -> list[int]:
    """Turns per conversation: 1 to 19 (10 on average), adding up to the plan's messages."""
    mean = plan.messages // (2 * plan.conversations)
    turns = [rng.randint(1, 2 * mean - 1) for _ in range(plan.conversations)]
    while (gap := plan.messages // 2 - sum(turns)) != 0:
        i = rng.randrange(len(turns))
        step = 1 if gap > 0 else -1
        if 1 <= turns[i] + step <= 2 * mean - 1:
            turns[i] += step
    return turns


def _id(rng: random.Random) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(16)).rstrip(b"=").decode()


def _words(rng: random.Random, vocabulary: Vocabulary, bounds: tuple[int, int]) -> list[str]:
    return rng.choices(vocabulary.words, cum_weights=vocabulary.cumulative, k=rng.randint(*bounds))


def corpus(plan: Plan, seed: int = SEED) -> Corpus:
    """The conversations and messages, the same for the same plan and seed; and for each
    query, the messages and conversations it matches, counted while the text is written."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng, CORE_WORDS, max(plan.messages // 4, 1_000))
    matched = _queries(vocabulary)
    # Each rare word's messages and their conversations.
    rare_in: dict[str, dict[int, int]] = defaultdict(dict)
    conversations: list[tuple[str, str, str, datetime, datetime]] = []
    messages: list[tuple[str, str, str | None, int, str, str, datetime]] = []
    total_words = 0
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for c, turns in enumerate(_turns(rng, plan)):
        conversation_id = _id(rng)
        created = start + timedelta(minutes=30 * c)
        parent: str | None = None
        title = ""
        for seq in range(1, 2 * turns + 1):
            reply = seq % 2 == 0
            words = _words(rng, vocabulary, REPLY_WORDS if reply else USER_WORDS)
            if rng.random() < RARE_SHARE:
                rare = rng.choice(vocabulary.rare)
                words.insert(rng.randrange(len(words) + 1), rare)
                rare_in[rare][len(messages)] = c
            if seq == 1:
                title = " ".join(words[:TITLE_WORDS]).capitalize()
            total_words += len(words)
            present = set(words)
            plain = " " + " ".join(words) + " "
            for query, matches in matched:
                if matches(present, plain):
                    query.messages += 1
                    query.conversations.add(c)
            message_id = _id(rng)
            stamp = created + timedelta(seconds=45 * seq)
            role = "assistant" if reply else "user"
            text = _prose(rng, words, reply)
            messages.append((message_id, conversation_id, parent, seq, role, text, stamp))
            parent = message_id
        assert parent is not None
        conversations.append((conversation_id, title, parent, created, messages[-1][-1]))
    queries = [q for q, _ in matched]
    # The rare word: one the text holds in three messages (or as near as this size allows).
    rare, where = min(rare_in.items(), key=lambda item: (abs(len(item[1]) - 3), item[0]))
    queries.insert(2, Query("rare word", rare, len(where), set(where.values())))
    return Corpus(conversations, messages, queries, total_words, vocabulary)


# -- Databases -------------------------------------------------------------------------------

# The tables as they are at BEFORE_INDEX (the data is written before the index exists),
# not parley.db.tables (the head's).
_TIME = sa.DateTime(timezone=True)
_CONVERSATIONS = sa.table(
    "conversations",
    sa.column("id"),
    sa.column("owner_id"),
    sa.column("title"),
    sa.column("current_leaf_id"),
    sa.column("created_at", _TIME),
    sa.column("updated_at", _TIME),
)
_MESSAGES = sa.table(
    "messages",
    sa.column("id"),
    sa.column("conversation_id"),
    sa.column("parent_id"),
    sa.column("seq", sa.Integer),
    sa.column("role"),
    sa.column("text"),
    sa.column("parts", sa.JSON),
    sa.column("model_messages"),
    sa.column("status"),
    sa.column("error"),
    sa.column("model"),
    sa.column("usage", sa.JSON),
    sa.column("run_id"),
    sa.column("created_at", _TIME),
    sa.column("updated_at", _TIME),
)
_BATCH = 500  # conversations per executemany


def _message_row(
    message: tuple[str, str, str | None, int, str, str, datetime],
) -> dict[str, Any]:
    message_id, conversation_id, parent_id, seq, role, text, stamp = message
    reply = role == "assistant"
    # A reply's part carries its rendered HTML, as Parley stores it; this text has no markup.
    part = {"type": "text", "text": text, "html": f"<p>{text}</p>" if reply else None}
    return {
        "id": message_id,
        "conversation_id": conversation_id,
        "parent_id": parent_id,
        "seq": seq,
        "role": role,
        "text": text,
        "parts": [part],
        "model_messages": "[]",
        "status": "complete",
        "error": None,
        "model": "bench" if reply else None,
        "usage": {"input_tokens": 0, "output_tokens": 0} if reply else None,
        "run_id": None,
        "created_at": stamp,
        "updated_at": stamp,
    }


async def _seed(url: str, data: Corpus) -> float:
    """The schema at BEFORE_INDEX and the corpus in it, in batches; seconds the inserts took."""
    async with engine_on(url) as engine:
        await upgrade(engine, BEFORE_INDEX)
        started = time.perf_counter()
        first = 0
        for i in range(0, len(data.conversations), _BATCH):
            batch = data.conversations[i : i + _BATCH]
            last = first
            ids = {c[0] for c in batch}
            while last < len(data.messages) and data.messages[last][1] in ids:
                last += 1
            async with engine.begin() as conn:
                await conn.execute(
                    _CONVERSATIONS.insert(),
                    [
                        {
                            "id": cid,
                            "owner_id": LOCAL_OWNER,
                            "title": title,
                            "current_leaf_id": leaf,
                            "created_at": created,
                            "updated_at": updated,
                        }
                        for cid, title, leaf, created, updated in batch
                    ],
                )
                await conn.execute(
                    _MESSAGES.insert(), [_message_row(m) for m in data.messages[first:last]]
                )
            first = last
        assert first == len(data.messages)
        return time.perf_counter() - started


async def _size(url: str) -> int:
    """Bytes the database takes (SQLite: the file, its write-ahead log checkpointed first)."""
    async with engine_on(url) as engine, engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = await conn.exec_driver_sql("PRAGMA page_count")
            page_size = await conn.exec_driver_sql("PRAGMA page_size")
            return int(pages.scalar_one()) * int(page_size.scalar_one())
        size = await conn.scalar(sa.text("SELECT pg_database_size(current_database())"))
        return int(size or 0)


class LostRows(RuntimeError):
    """The migration did not keep every stored row: no figure after it would mean anything."""


async def _counts(url: str) -> tuple[int, int]:
    async with engine_on(url) as engine, engine.connect() as conn:
        found = []
        for name in ("conversations", "messages"):
            found.append(int(await conn.scalar(sa.text(f"SELECT count(*) FROM {name}")) or 0))
        return found[0], found[1]


async def _migrate(url: str) -> float:
    """Seconds `upgrade(engine, "head")` takes from BEFORE_INDEX: the index built from the
    stored text. Raises LostRows if conversations or messages are missing after it."""
    before = await _counts(url)
    async with engine_on(url) as engine:
        started = time.perf_counter()
        await upgrade(engine, "head")
        spent = time.perf_counter() - started
    after = await _counts(url)
    if after != before:
        raise LostRows(
            f"migration {BEFORE_INDEX} -> {_head()} kept {after[0]:,} of {before[0]:,} "
            f"conversations and {after[1]:,} of {before[1]:,} messages"
        )
    return spent


async def _drop_upkeep(url: str) -> list[str]:
    """Stop the database keeping the search index in step, leaving the schema as the app
    expects it: SQLite's search triggers dropped; PostgreSQL's generated columns made plain
    ones and their GIN indexes dropped. What was dropped."""
    dropped: list[str] = []
    async with engine_on(url) as engine, engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            triggers = await conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%search%'"
            )
            for (name,) in triggers.all():
                await conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
                dropped.append(f"trigger {name}")
            return dropped
        indexes = await conn.exec_driver_sql(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexdef LIKE '% USING gin %'"
        )
        for (name,) in indexes.all():
            await conn.exec_driver_sql(f'DROP INDEX "{name}"')
            dropped.append(f"index {name}")
        generated = await conn.execute(
            sa.text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND is_generated = 'ALWAYS'"
            )
        )
        for table_name, column in generated.all():
            await conn.exec_driver_sql(
                f'ALTER TABLE "{table_name}" ALTER COLUMN "{column}" DROP EXPRESSION'
            )
            dropped.append(f"generated {table_name}.{column}")
    return dropped


def _dsn(url: str) -> str:
    """`url` for asyncpg (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(maintenance: str, *statements: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(_dsn(maintenance), timeout=10)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@contextmanager
def _database(
    backend: Backend, maintenance: str, directory: Path, copy_of: str | None = None
) -> Iterator[str]:
    """A new database (a copy of `copy_of`'s, if given); its SQLAlchemy URL. Dropped after."""
    if backend == "sqlite":
        path = directory / f"search-{secrets.token_hex(4)}.db"
        if copy_of is not None:
            source = make_url(copy_of).database or ""
            with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(path)) as dst:
                src.backup(dst)
        yield sqlite_url(path)
        return
    name = f"parley_bench_{secrets.token_hex(6)}"
    template = f' TEMPLATE "{make_url(copy_of).database}"' if copy_of else ""
    _admin(maintenance, f'CREATE DATABASE "{name}"{template}')
    try:
        yield (
            make_url(maintenance)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        # FORCE: a server just stopped may still hold a connection for a moment.
        _admin(maintenance, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _vacuum(url: str) -> None:
    """VACUUM ANALYZE, as a database that has been in use for a while would have had."""
    _admin(url, "VACUUM ANALYZE")


# -- CPU of processes ------------------------------------------------------------------------


def _proc_cpu(pid: int) -> float | None:
    """Seconds of CPU (user + system) process `pid` has used, where /proc tells."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Backends:
    """The CPU of the PostgreSQL backends serving one database (read from /proc: the server
    must run on this machine): what the database itself spends for a Parley process."""

    def __init__(self, maintenance: str, url: str) -> None:
        self.maintenance = _dsn(maintenance)
        self.database = make_url(url).database

    async def cpu(self) -> dict[int, float]:
        connection = await asyncpg.connect(self.maintenance, timeout=10)
        try:
            pids = await connection.fetch(
                # Client backends only: autovacuum, which may start at any moment on either
                # database, is not a turn's cost.
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = $1 AND backend_type = 'client backend'",
                self.database,
            )
        finally:
            await connection.close()
        found = {row["pid"]: _proc_cpu(row["pid"]) for row in pids}
        return {pid: cpu for pid, cpu in found.items() if cpu is not None}


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    # A backend started in between counts from zero; one that ended in between is lost (the
    # servers keep their connections pooled, so that is rare).
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


# -- Search latency --------------------------------------------------------------------------


@dataclass
class Timing:
    query: Query
    seconds: list[float] = field(default_factory=list)
    results: int = 0  # conversations on the first page
    more: bool = False  # whether the first page offered a next one
    error: str | None = None

    def short(self, page: int) -> bool:
        """Whether the answer left out conversations that match: a first page with fewer
        than it could hold, or no next page when more match than one page holds."""
        matching = len(self.query.conversations)
        return self.results < min(page, matching) or (matching > page and not self.more)


def _search_latency(server: Server, queries: list[Query], plan: Plan) -> list[Timing]:
    """Each query `plan.warmups` times, then timed `plan.samples` times, one after another."""
    timings = []
    with httpx.Client(base_url=server.url, timeout=SEARCH_TIMEOUT, trust_env=False) as client:
        for query in queries:
            timing = Timing(query)
            timings.append(timing)
            params: dict[str, str | int] = {"q": query.text, "limit": PAGE}
            spent = 0.0
            for i in range(plan.warmups + plan.samples):
                started = time.perf_counter()
                response = client.get("/api/search", params=params)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    timing.error = f"HTTP {response.status_code}: {response.text[:200]}"
                    break
                body = response.json()
                timing.results = len(body["items"])
                timing.more = body["next_cursor"] is not None
                if i >= plan.warmups:
                    timing.seconds.append(elapsed)
                    spent += elapsed
                    if spent > QUERY_BUDGET and len(timing.seconds) >= 5:
                        break
    return timings


# -- CPU per turn ----------------------------------------------------------------------------


@dataclass
class TurnCpu:
    """Seconds of CPU per turn, one entry per round."""

    parley: list[float] = field(default_factory=list)
    database: list[float] = field(default_factory=list)
    turns: int = 0

    def total(self, i: int) -> float:
        return self.parley[i] + (self.database[i] if self.database else 0.0)


async def _turn(client: httpx.AsyncClient, conversation_id: str, prompt: str) -> None:
    status = None
    async with client.stream(
        "POST", f"/api/conversations/{conversation_id}/messages", json={"prompt": prompt}
    ) as response:
        if response.status_code != 200:
            await response.aread()
            raise RuntimeError(f"turn: HTTP {response.status_code} {response.text[:200]}")
        async for frame in aiter_frames(response.aiter_lines()):
            if frame.event == "done":
                status = frame.data["status"]
    if status != "complete":
        raise RuntimeError(f"turn ended {status}")


async def _conversation(client: httpx.AsyncClient, title: str) -> str:
    # A title of the user's own: no title request to the model after the first reply.
    response = await client.post("/api/conversations", json={"title": title})
    response.raise_for_status()
    conversation_id: str = response.json()["id"]
    return conversation_id


async def _turn_cpu(
    pair: dict[str, tuple[Server, Backends | None]], prompts: list[str], plan: Plan
) -> dict[str, TurnCpu]:
    """Rounds of `plan.turns` turns on each server in turn (which goes first alternates), each
    round in a new conversation; CPU of the server process, and of its database backends."""
    results = {name: TurnCpu() for name in pair}
    clients = {
        name: httpx.AsyncClient(base_url=server.url, timeout=TURN_TIMEOUT, trust_env=False)
        for name, (server, _) in pair.items()
    }
    try:
        for client in clients.values():
            warm = await _conversation(client, "warm-up")
            for i in range(3):
                await _turn(client, warm, prompts[i])
        names = list(pair)
        for r in range(plan.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                server, backends = pair[name]
                client = clients[name]
                conversation_id = await _conversation(client, f"round {r}")
                before = server.cpu()
                database_before = await backends.cpu() if backends else {}
                for t in range(plan.turns):
                    await _turn(
                        client, conversation_id, prompts[(r * plan.turns + t) % len(prompts)]
                    )
                after = server.cpu()
                assert before is not None and after is not None, "no /proc: no CPU figures"
                results[name].parley.append((after - before) / plan.turns)
                if backends:
                    spent = _spent(database_before, await backends.cpu())
                    results[name].database.append(spent / plan.turns)
                results[name].turns += plan.turns
    finally:
        for client in clients.values():
            await client.aclose()
    return results


async def _write_turn(
    conn: AsyncConnection,
    conversation_id: str,
    parent: str | None,
    seq: int,
    prompt: str,
    reply: str,
) -> str:
    """The writes of a turn that the index follows, as the Store makes them: the prompt and
    the empty reply inserted in one transaction, the finished reply written in another."""
    stamp = datetime.now(UTC)
    user, assistant = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    rows = [
        (user, conversation_id, parent, seq, "user", prompt, stamp),
        (assistant, conversation_id, user, seq + 1, "assistant", "", stamp),
    ]
    await conn.execute(_MESSAGES.insert(), [_message_row(r) for r in rows])
    await conn.commit()
    part = {"type": "text", "text": reply, "html": f"<p>{reply}</p>"}
    await conn.execute(
        _MESSAGES.update()
        .where(_MESSAGES.c.id == assistant)
        .values(text=reply, parts=[part], status="complete", updated_at=stamp)
    )
    await conn.commit()
    return assistant


def _backend_meter(pid: int) -> Callable[[], float]:
    def cpu() -> float:
        return _proc_cpu(pid) or 0.0

    return cpu


async def _direct(
    urls: dict[str, str], prompts: list[str], reply: str, turns: int
) -> dict[str, float]:
    """CPU seconds per turn of `_write_turn` alone on each database, interleaved turn by turn
    after a few unmeasured ones: this process's (SQLite runs in it) or the PostgreSQL
    backend's (where the index is computed)."""
    spent = dict.fromkeys(urls, 0.0)
    warmups = 5
    async with engine_on(urls["with"]) as with_index, engine_on(urls["without"]) as without:
        engines = {"with": with_index, "without": without}
        connections = {name: await engine.connect() for name, engine in engines.items()}
        try:
            meters: dict[str, Callable[[], float]] = {}
            conversations: dict[str, str] = {}
            for name, conn in connections.items():
                meters[name] = time.process_time
                if conn.dialect.name == "postgresql":
                    pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
                    meters[name] = _backend_meter(int(pid or 0))
                conversations[name] = secrets.token_urlsafe(16)
                stamp = datetime.now(UTC)
                await conn.execute(
                    _CONVERSATIONS.insert().values(
                        id=conversations[name],
                        owner_id=LOCAL_OWNER,
                        title="direct writes",
                        current_leaf_id=None,
                        created_at=stamp,
                        updated_at=stamp,
                    )
                )
                await conn.commit()
            leaves: dict[str, str | None] = dict.fromkeys(urls)
            for i in range(warmups + turns):
                for name in ("with", "without") if i % 2 == 0 else ("without", "with"):
                    prompt = prompts[i % len(prompts)]
                    started = meters[name]()
                    leaves[name] = await _write_turn(
                        connections[name],
                        conversations[name],
                        leaves[name],
                        2 * i + 1,
                        prompt,
                        reply,
                    )
                    if i >= warmups:
                        spent[name] += meters[name]() - started
        finally:
            for conn in connections.values():
                await conn.close()
    return {name: total / turns for name, total in spent.items()}


# -- One database ----------------------------------------------------------------------------


@dataclass
class Outcome:
    backend: Backend
    seed_s: float
    size_before: int
    migrate_s: float
    size_after: int
    dropped: list[str]
    timings: list[Timing]
    cpu: dict[str, TurnCpu]
    direct: dict[str, float]
    log_problems: list[str]


def _prompts(plan: Plan, vocabulary: Vocabulary) -> list[str]:
    rng = random.Random(SEED + 1)
    return [
        _prose(rng, _words(rng, vocabulary, USER_WORDS), reply=False)
        for _ in range(max(plan.rounds * plan.turns, 50))
    ]


def _log_problems(server: Server, label: str) -> list[str]:
    lines = server.output().splitlines()
    bad = [line for line in lines if "Traceback" in line or '" 5' in line or "ERROR" in line]
    return [f"{label}: {len(bad)} x {bad[0].strip()[:160]}"] if bad else []


def _run(backend: Backend, plan: Plan, data: Corpus, maintenance: str, directory: Path) -> Outcome:
    prompts = _prompts(plan, data.vocabulary)
    reply = paced_agents.reply_text(1)
    with _database(backend, maintenance, directory) as url:
        _progress(f"{backend}: writing {len(data.messages):,} messages")
        seed_s = asyncio.run(_seed(url, data))
        if backend == "postgresql":
            _vacuum(url)
        size_before = asyncio.run(_size(url))
        _progress(f"{backend}: migrating to head")
        migrate_s = asyncio.run(_migrate(url))
        size_after = asyncio.run(_size(url))
        with _database(backend, maintenance, directory, copy_of=url) as bare:
            dropped = asyncio.run(_drop_upkeep(bare))
            homes = [directory / "with", directory / "without"]
            for home in homes:
                home.mkdir(exist_ok=True)
            with servers(homes[0], url) as start_with, servers(homes[1], bare) as start_without:
                indexed = start_with("--agent", AGENT)
                plain = start_without("--agent", AGENT)
                _progress(f"{backend}: searching")
                timings = _search_latency(indexed, data.queries, plan)
                _progress(f"{backend}: turns")
                meters = {
                    "with": (indexed, Backends(maintenance, url) if backend != "sqlite" else None),
                    "without": (
                        plain,
                        Backends(maintenance, bare) if backend != "sqlite" else None,
                    ),
                }
                cpu = asyncio.run(_turn_cpu(meters, prompts, plan))
            problems = _log_problems(indexed, "with") + _log_problems(plain, "without")
            _progress(f"{backend}: writes alone")
            direct = asyncio.run(
                _direct({"with": url, "without": bare}, prompts, reply, plan.direct)
            )
    return Outcome(
        backend, seed_s, size_before, migrate_s, size_after, dropped, timings, cpu, direct, problems
    )


# -- Report ----------------------------------------------------------------------------------


def _progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def _percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or "?"


def _header(
    argv: list[str], plan: Plan, data: Corpus, postgres: str | None, made: float
) -> list[str]:
    command = shlex.join([".venv/bin/python", "-m", "bench.search", *argv])
    uname = platform.uname()
    users = sum(1 for m in data.messages if m[4] == "user")
    vocabulary = data.vocabulary
    return [
        f"Parley search benchmark: {plan.conversations:,} conversations, "
        f"{len(data.messages):,} messages" + (" (quick)" if plan is QUICK else ""),
        f"command   {command}",
        f"python    {platform.python_implementation()} {platform.python_version()}, "
        f"{uname.system} {uname.machine}, {os.cpu_count()} CPUs, load average "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
        + " at the start",
        f"postgres  {postgres or 'not reachable or not asked for: PostgreSQL skipped'}",
        f"text      {data.words:,} words: {users:,} prompts of {USER_WORDS[0]}-{USER_WORDS[1]} "
        f"words, {len(data.messages) - users:,} replies of {REPLY_WORDS[0]}-{REPLY_WORDS[1]}, "
        "1-19 turns a conversation",
        f"          {len(vocabulary.words):,} pseudo-words ranked by a Zipf law "
        f"(1/(rank+{_ZIPF_SHIFT})), {len(vocabulary.rare):,} rare ones ({RARE_SHARE:.0%} of "
        f"messages hold one); seed {SEED}, made in {made:.0f} s",
        f"owner     {LOCAL_OWNER!r} (no accounts); the index from migration {BEFORE_INDEX} -> "
        f"{_head()}",
        "",
    ]


def _search_table(outcome: Outcome, data: Corpus, plan: Plan) -> list[str]:
    rows = []
    for t in outcome.timings:
        q = t.query
        spread = (
            [f"{_percentile(t.seconds, p) * 1000:.1f}" for p in (0.5, 0.95)]
            if t.seconds
            else ["-", "-"]
        )
        rows.append(
            [
                q.label,
                q.text,
                f"{q.messages:,}",
                f"{data.share(q):.1%}",
                f"{len(q.conversations):,}",
                "error"
                if t.error
                else f"{t.results}{'+' if t.more else ''}{'!' if t.short(PAGE) else ''}",
                str(len(t.seconds)),
                *spread,
            ]
        )
    header = ["query", "typed", "messages", "share", "convs", "page", "n", "p50 ms", "p95 ms"]
    lines = [
        f"Search through GET /api/search?q=...&limit={PAGE}, one request at a time, after "
        f"{plan.warmups} warm-ups",
        *table(header, rows),
        "  messages, share, convs   messages (and their share) and conversations the query",
        "                           matches, counted while the text was written",
        "  page                     conversations on the first page; + it offered a next one;",
        "                           ! matching conversations were left out: fewer than",
        f"                           min({PAGE}, convs), or no next page though convs > {PAGE}",
        "  n                        timed requests",
    ]
    lines += [f"  {t.query.label}: {t.error}" for t in outcome.timings if t.error]
    return lines


def _cpu_table(outcome: Outcome, plan: Plan) -> list[str]:
    cpu = outcome.cpu
    postgres = outcome.backend == "postgresql"

    def ms(values: list[float]) -> str:
        return f"{statistics.fmean(values) * 1000:.2f}" if values else "-"

    rows = []
    for name, label in (("with", "kept in step"), ("without", "upkeep dropped")):
        c = cpu[name]
        totals = [c.total(i) for i in range(len(c.parley))]
        rows.append([label, str(c.turns), ms(c.parley), ms(c.database), ms(totals)])
    rounds = len(cpu["with"].parley)
    diffs = [cpu["with"].total(i) - cpu["without"].total(i) for i in range(rounds)]
    mean = statistics.fmean(diffs) * 1000
    margin = 2 * statistics.stdev(diffs) / math.sqrt(rounds) * 1000 if rounds > 1 else math.nan

    def added(a: list[float], b: list[float]) -> str:
        return f"{(statistics.fmean(a) - statistics.fmean(b)) * 1000:+.2f}" if a and b else "-"

    rows.append(
        [
            "added",
            "",
            added(cpu["with"].parley, cpu["without"].parley),
            added(cpu["with"].database, cpu["without"].database),
            f"{mean:+.2f} ± {margin:.2f}",
        ]
    )
    direct = outcome.direct
    where = "the backend" if postgres else "this process"
    dropped = textwrap.wrap(
        "dropped on the copy: " + ", ".join(outcome.dropped),
        width=92,
        initial_indent="  ",
        subsequent_indent="    ",
    )
    return [
        f"CPU per turn, ms: {AGENT}, {plan.rounds} rounds of {plan.turns} turns on each of two",
        "servers, alternating: one on the database as migrated, one on a copy of it without the",
        "index's upkeep",
        *table(["search index", "turns", "parley", "database", "total"], rows),
        *dropped,
        "  parley     the server process (user + system, /proc)"
        + (", database: its PostgreSQL backends" if postgres else ""),
        "  added      ± two standard errors of the per-round differences",
        "The writes alone (prompt and empty reply inserted, then the "
        f"{len(paced_agents.reply_text(1))}-char reply written:",
        f"two transactions), CPU of {where}, ms per turn, mean of {plan.direct}:",
        f"  with the index {direct['with'] * 1000:.3f}, without {direct['without'] * 1000:.3f}, "
        f"added {(direct['with'] - direct['without']) * 1000:+.3f}",
    ]


_TITLES: dict[Backend, str] = {"sqlite": "SQLite (a file, WAL)", "postgresql": "PostgreSQL"}


def _section(outcome: Outcome, data: Corpus, plan: Plan) -> list[str]:
    lines = [
        f"== {_TITLES[outcome.backend]}",
        f"written at {BEFORE_INDEX}: {outcome.seed_s:.1f} s ({_BATCH} conversations and their "
        f"messages a transaction, executemany), {_mb(outcome.size_before)}"
        + (", then VACUUM ANALYZE" if outcome.backend == "postgresql" else ""),
        f"migration {BEFORE_INDEX} -> {_head()}: {outcome.migrate_s:.1f} s, "
        f"{_mb(outcome.size_before)} -> {_mb(outcome.size_after)}",
        "",
        *_search_table(outcome, data, plan),
        "",
        *_cpu_table(outcome, plan),
    ]
    lines.append("server logs: " + ("; ".join(outcome.log_problems) or "clean"))
    return [*lines, ""]


async def _postgres_info(maintenance: str) -> str:
    connection = await asyncpg.connect(_dsn(maintenance), timeout=10)
    try:
        version = await connection.fetchval("SHOW server_version")
        buffers = await connection.fetchval("SHOW shared_buffers")
        return f"PostgreSQL {version}, shared_buffers {buffers}, default settings otherwise"
    finally:
        await connection.close()


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 conversations, few samples")
    parser.add_argument(
        "--database", action="append", choices=BACKENDS, help="only this one (repeatable)"
    )
    default = os.environ.get("PARLEY_BENCH_POSTGRES") or os.environ.get(POSTGRES_ENV) or POSTGRES
    parser.add_argument(
        "--postgres",
        default=default,
        help="a PostgreSQL database to connect to for creating and dropping the benchmark's own "
        f"(default PARLEY_BENCH_POSTGRES, {POSTGRES_ENV} or {POSTGRES})",
    )
    args = parser.parse_args(args_list)
    # Stopped with SIGTERM, unwind as for Ctrl+C: the servers are stopped, the PostgreSQL
    # databases dropped and the temporary files (gigabytes at full size) removed.
    signal.signal(signal.SIGTERM, _terminated)
    plan = QUICK if args.quick else FULL
    backends: list[Backend] = args.database or BACKENDS
    postgres: str | None = None
    if "postgresql" in backends:
        try:
            postgres = asyncio.run(_postgres_info(args.postgres))
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"PostgreSQL at {args.postgres}: {exc}", file=sys.stderr)
            backends = [b for b in backends if b != "postgresql"]

    started = time.perf_counter()
    data = corpus(plan)
    made = time.perf_counter() - started
    print("\n".join(_header(args_list, plan, data, postgres, made)), flush=True)
    failed = False
    with tempfile.TemporaryDirectory(prefix="parley-search-") as name:
        for backend in backends:
            directory = Path(name) / backend
            directory.mkdir()
            try:
                outcome = _run(backend, plan, data, args.postgres, directory)
            except LostRows as exc:
                print(f"== {_TITLES[backend]}\nFAILED: {exc}\n", flush=True)
                failed = True
                continue
            print("\n".join(_section(outcome, data, plan)), flush=True)
    print(f"total {time.perf_counter() - started:.0f} s")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
