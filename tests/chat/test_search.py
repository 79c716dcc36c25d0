"""Search: titles and message text, ranked by the database, only the owner's, always in step."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.chat.query import BadQuery, Term, fts5_match, parse, tsquery, whole_words
from parley.chat.search import search
from parley.chat.snippets import highlight, plain
from parley.chat.store import Store
from parley.db.migrate import alembic_config, upgrade

from ..support.client import branch, edit, new_conversation, regenerate, send
from ..support.databases import engine_on, run_in_thread
from ..support.models import Echo, Scripted
from ..support.seed import seed_conversation


def _search(client: TestClient, q: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _found(client: TestClient, q: str) -> list[str]:
    return [r["conversation"]["id"] for r in _search(client, q)]


def _titled(client: TestClient, title: str) -> str:
    response = client.post("/api/conversations", json={"title": title})
    assert response.status_code == 201
    conversation_id: str = response.json()["id"]
    return conversation_id


def test_finds_titles_and_message_text_with_hits_marked(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    trip = _titled(client, "Trip to Lisbon")
    cooking = new_conversation(client)
    send(client, cooking, "How long do I boil an egg?")

    by_title = _search(client, "lisbon ")
    assert [r["conversation"]["id"] for r in by_title] == [trip]
    assert by_title[0]["title_html"] == "Trip to <mark>Lisbon</mark>"
    assert by_title[0]["hits"] == []

    by_text = _search(client, "boil ")
    assert [r["conversation"]["id"] for r in by_text] == [cooking]
    hits = by_text[0]["hits"]
    # The prompt and the echoed reply both hold the word: the prompt's snippet is plain text.
    assert {h["role"] for h in hits} == {"user", "assistant"}
    prompt = next(h for h in hits if h["role"] == "user")
    assert prompt["snippet_html"] == "How long do I <mark>boil</mark> an egg?"
    assert prompt["message_id"] == branch(client, cooking)[0]["id"]
    assert _search(client, "nothing-like-this ") == []


def test_a_title_hit_and_a_repeated_term_rank_above_a_passing_mention(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(Echo().agent())
    filler = " ".join(f"word{i}" for i in range(80))
    passing, _ = seed_conversation(
        database_url, 2, title="Notes", text=lambda i: f"{filler} zebra {filler}"
    )
    repeated, _ = seed_conversation(
        database_url, 2, title="Animals", text=lambda i: "zebra zebra zebra, a zebra herd"
    )
    titled, _ = seed_conversation(
        database_url, 2, title="Zebra crossings", text=lambda i: f"{filler} {filler}"
    )
    order = _found(client, "zebra ")
    assert set(order) == {passing, repeated, titled}
    assert order[-1] == passing


def test_prefix_while_typing_and_exact_phrases(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    fox = new_conversation(client)
    send(client, fox, "The quick brown fox jumps")
    backwards = new_conversation(client)
    send(client, backwards, "fox brown quick")

    assert set(_found(client, "qui")) == {fox, backwards}  # still typing: a prefix
    assert _found(client, "qui ") == []  # a finished word is a word
    assert set(_found(client, "brow*")) == {fox, backwards}
    assert _found(client, '"quick brown fox"') == [fox]
    assert _found(client, '"brown fox" jum') == [fox]
    assert _found(client, '"quick brown') == [fox]  # the closing quote not typed yet
    assert set(_found(client, "QUICK Fox")) == {fox, backwards}


def test_a_word_being_typed_is_looked_for_whole_first(
    make_client: Callable[..., TestClient], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With room for two candidates, the two messages holding the whole word fill it, and the
    # prefix (which would also find "pangolins") is not expanded; with room for four, it is.
    monkeypatch.setattr("parley.chat.search.CANDIDATES", 2)
    client = make_client(Echo().agent())
    whole, _ = seed_conversation(database_url, 2, text=lambda i: "a pangolin")
    longer, _ = seed_conversation(database_url, 2, text=lambda i: "two pangolins")
    assert _found(client, "pangolin") == [whole]
    assert _found(client, "pangolin*") == [whole]
    monkeypatch.setattr("parley.chat.search.CANDIDATES", 4)
    assert set(_found(client, "pangolin")) == {whole, longer}
    assert set(_found(client, "pangol")) == {whole, longer}


def test_a_prefix_of_very_common_words_is_looked_for_as_its_most_frequent_words(
    make_client: Callable[..., TestClient], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite: past `_PREFIX_MESSAGES` messages, "pango" stands for "pangolin" (in 4 messages,
    # enough for the 3 candidates), not "pangolins" (in 2); below it, for both.
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL expands a prefix in its GIN index, whatever its words")
    monkeypatch.setattr("parley.chat.search.CANDIDATES", 3)
    client = make_client(Echo().agent())
    common, _ = seed_conversation(database_url, 4, text=lambda i: "a pangolin")
    rarer, _ = seed_conversation(database_url, 2, text=lambda i: "two pangolins")
    assert set(_found(client, "pango")) == {common, rarer}
    monkeypatch.setattr("parley.chat.search._PREFIX_MESSAGES", 5)
    assert _found(client, "pango") == [common]
    assert _found(client, "a-pango") == [common]  # a phrase whose last word is typed
    terms = parse("x pango")
    assert fts5_match(terms, "body", {terms[1]: ["pangolin", "pangolins"]}) == (
        'body : "x" AND body : ("pangolin" OR "pangolins")'
    )
    phrase = parse("a-pango")
    assert fts5_match(phrase, "body", {phrase[0]: ["pangolin"]}) == 'body : ("a pangolin")'


def test_results_never_include_another_owners_conversations(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(Echo().agent())
    mine, _ = seed_conversation(database_url, 2, owner="local", text=lambda i: "shared secret")
    seed_conversation(database_url, 2, owner="someone", text=lambda i: "shared secret")
    seed_conversation(database_url, 2, owner="localx", text=lambda i: "shared secret")
    assert _found(client, "shared") == [mine]
    assert _found(client, "secr") == [mine]

    async def as_someone() -> list[str]:
        async with engine_on(database_url) as engine:
            results, _ = await search(engine, "someone", parse("shared secret"), 10, 0)
        return [r.conversation.id for r in results]

    assert len(run_in_thread(as_someone())) == 1
    assert mine not in run_in_thread(as_someone())


def test_the_index_follows_edits_regenerations_renames_and_deletes(
    make_client: Callable[..., TestClient],
) -> None:
    echo = Echo()
    client = make_client(echo.agent())
    cid = new_conversation(client)
    send(client, cid, "apples")
    first = branch(client, cid)
    assert _found(client, "apples") == [cid]

    edit(client, cid, first[0]["id"], "pears")
    assert _found(client, "pears") == [cid]
    hits = _search(client, "pears")[0]["hits"]
    assert branch(client, cid)[0]["id"] in {h["message_id"] for h in hits}

    regenerate(client, cid, branch(client, cid)[1]["id"])
    assert len(_search(client, "pears")[0]["hits"]) == 3  # prompt and both replies

    client.patch(f"/api/conversations/{cid}", json={"title": "Fruit salad"})
    assert _found(client, "salad") == [cid]
    assert client.delete(f"/api/conversations/{cid}").status_code == 204
    for query in ("apples", "pears", "salad"):
        assert _found(client, query) == []
    # The next conversation may reuse the deleted one's rowid (SQLite): it inherits nothing.
    reused = new_conversation(client)
    send(client, reused, "bananas")
    assert _found(client, "apples") == [] and _found(client, "bananas") == [reused]


def test_a_reply_is_searchable_from_its_first_checkpoint(
    make_client: Callable[..., TestClient],
) -> None:
    gate = asyncio.Event()
    agent = Scripted(["Checkpointed words ", "and the rest"], gate=gate).agent()
    client = make_client(agent, checkpoint_interval=0.05)
    cid = new_conversation(client)
    url = f"/api/conversations/{cid}/messages"
    with client.stream("POST", url, json={"prompt": "go"}) as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("event: text"):
                break
        deadline = time.monotonic() + 10
        while not _found(client, "checkpointed") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _found(client, "checkpointed") == [cid]
        assert branch(client, cid)[1]["status"] == "generating"
        client.portal.call(gate.set)  # type: ignore[union-attr]
        list(lines)
    assert _found(client, '"and the rest"') == [cid]


NASTY = [
    '"',
    '""',
    '"unbalanced',
    "*",
    "a*b*",
    "-",
    "-apples",
    "apples -pears",
    ":",
    "body:apples",
    "owner:local",
    "{owner}:x",
    "NEAR(apples pears)",
    "apples NEAR pears",
    "apples OR pears",
    "AND",
    "NOT apples",
    "(apples",
    "apples)",
    "^apples",
    "'",
    "it's",
    "a & b | !c <-> d:*",
    "\\",
    "%",
    "_",
    "🍎",
    "\ufeff",
    "x" * 499,
]


@pytest.mark.parametrize("query", NASTY)
def test_query_syntax_characters_are_text_never_a_500(
    make_client: Callable[..., TestClient], query: str
) -> None:
    client = make_client(Echo().agent())
    cid = new_conversation(client)
    send(client, cid, "apples and pears, it's NEAR the body: owner local")
    response = client.get("/api/search", params={"q": query})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.json()["detail"] == "Type a word to search for."


def test_oversized_and_empty_queries_are_a_clear_422(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    cases = {
        "": "Type a word",
        "   ": "Type a word",
        "x" * 10_000: "at most 500",
        " ".join(["word"] * 40): "at most 32",
        "\x00": "Type a word",
    }
    for query, words in cases.items():
        response = client.get("/api/search", params={"q": query})
        assert response.status_code == 422, query
        assert words in response.json()["detail"]
    bad_cursor = client.get("/api/search", params={"q": "x", "cursor": "bm90IGEgY3Vyc29y"})
    assert bad_cursor.status_code == 422


def test_results_page_through_every_matching_conversation(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(Echo().agent())
    made = {seed_conversation(database_url, 2, text=lambda i: "common words")[0] for _ in range(7)}
    found: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"q": "common", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/search", params=params).json()
        found += [r["conversation"]["id"] for r in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(found) == sorted(made)


def test_snippets_escape_the_text_and_add_only_marks(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(Echo().agent())
    evil = '<img src=x onerror="alert(1)"> needle <script>needle()</script> & more'
    seed_conversation(database_url, 2, title="<b>needle</b>", text=lambda i: evil)
    result = _search(client, "needle")[0]
    assert result["title_html"] == "&lt;b&gt;<mark>needle</mark>&lt;/b&gt;"
    snippet = result["hits"][0]["snippet_html"]
    assert snippet == (
        '&lt;img src=x onerror="alert(1)"&gt; <mark>needle</mark> '
        "&lt;script&gt;<mark>needle</mark>()&lt;/script&gt; &amp; more"
    )


def test_a_reply_snippet_is_its_text_without_markdown_marks() -> None:
    markdown = "## Result\n\n- **Bold** and `code` with a [link](http://x) and ~~old~~\n1. two"
    assert plain(markdown) == "Result\n\nBold and code with a link and old\ntwo"
    assert highlight("Use **retry** now", parse("retry "), markdown=True) == (
        "Use <mark>retry</mark> now"
    )
    assert highlight("Un café crème", parse("cafe creme")) == (
        "Un <mark>café</mark> <mark>crème</mark>"
    )


def test_a_long_message_gives_a_window_around_its_hit() -> None:
    text = " ".join(f"w{i}" for i in range(400)) + " target " + " ".join("x" * 5 for _ in range(80))
    html = highlight(text, parse("target "))
    assert html.startswith("…") and html.endswith("…")
    assert "<mark>target</mark>" in html and len(html) < 260


def test_queries_become_terms_the_databases_cannot_misread() -> None:
    assert parse('say "hello world" to NEAR* foo') == [
        Term(("say",)),
        Term(("hello", "world")),
        Term(("to",)),
        Term(("NEAR",), prefix=True),
        Term(("foo",), prefix=True),
    ]
    # One or two letters are a whole word: as a prefix they would stand for a large part of
    # the vocabulary, every list of which the database would read and merge.
    assert parse("fo") == [Term(("fo",))]
    assert parse("fo*") == [Term(("fo",))]
    assert whole_words(parse("quick bro")) == [Term(("quick",)), Term(("bro",))]
    assert whole_words(parse("quick brown ")) is None
    terms = parse("x-ray \"it's\" o'brien*")
    assert fts5_match(terms, "body") == ('body : "x ray" AND body : "it s" AND body : "o brien" *')
    assert tsquery(terms) == "('x' <-> 'ray') & ('it' <-> 's') & ('o' <-> 'brien':*)"
    with pytest.raises(BadQuery):
        parse('"" * - : ()')


def test_the_migration_indexes_what_was_already_stored_and_loses_nothing(
    database_url: str,
) -> None:
    async def downgrade(engine: AsyncEngine, revision: str) -> None:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), revision))

    async def check() -> list[str]:
        async with engine_on(database_url) as engine:
            await upgrade(engine, "0004")
            async with engine.begin() as conn:
                await conn.execute(
                    sa.text(
                        "INSERT INTO conversations (id, owner_id, title, current_leaf_id,"
                        " created_at, updated_at) VALUES ('c1', 'local', 'Old times', 'm1',"
                        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    )
                )
                await conn.execute(
                    sa.text(
                        "INSERT INTO messages (id, conversation_id, parent_id, seq, role, text,"
                        " parts, model_messages, status, created_at, updated_at) VALUES"
                        " ('m1', 'c1', NULL, 1, 'user', 'a forgotten pangolin', '[]', '[]',"
                        " 'complete', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    )
                )
            await upgrade(engine)
            # There and back again: nothing lost either way (on SQLite a table copy would
            # have cascaded into the messages).
            await downgrade(engine, "0004")
            async with engine.connect() as conn:
                assert await conn.scalar(sa.text("SELECT count(*) FROM messages")) == 1
            await upgrade(engine)
            by_text, _ = await search(engine, "local", parse("pangolin"), 10, 0)
            by_title, _ = await search(engine, "local", parse("old times"), 10, 0)
            store = Store(engine)
            listed, _ = await store.list_conversations("local", 10)
        assert listed[0].title_source == "prompt" and not listed[0].pinned
        return [r.conversation.id for r in by_text + by_title]

    assert run_in_thread(check()) == ["c1", "c1"]
