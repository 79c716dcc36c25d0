"""Ratings of replies (chat/feedback.py, web/routes/feedback.py) on both databases: set, change
and clear; only the owner's replies, never a prompt; input refused with a clear 4xx; one row
however many requests race; the message list shows each reply's rating; and the dataset file
(chat/dataset.py) through the API and `parley feedback export`: the prompt and the branch
before it, the expected output of a good reply, the metadata."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml  # type: ignore[import-untyped]  # a dev dependency (schemathesis'), for reading back
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.accounts.store import Accounts
from parley.chat.dataset import NAME, case, document
from parley.chat.feedback import MAX_COMMENT_CHARS, Feedback, Rated, RatedTurn, Turn
from parley.db.tables import feedback, messages
from parley.web.deps import LOCAL_OWNER

from ..support.cli import add_user, run_cli
from ..support.client import branch, edit, new_conversation, send
from ..support.models import Echo, reply_to, tool_agent
from ..web.test_bad_input import BAD_TEXT, assert_refused, post_raw

PASSWORD = "correct horse battery"


def _url(cid: str, mid: str) -> str:
    return f"/api/conversations/{cid}/messages/{mid}/feedback"


def _feedback(client: TestClient) -> Feedback:
    return Feedback(client.app.state.services.store.engine)  # type: ignore[attr-defined]


def _rows(client: TestClient) -> list[dict[str, Any]]:
    engine = client.app.state.services.store.engine  # type: ignore[attr-defined]

    async def read() -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            found = await conn.execute(sa.select(feedback).order_by(feedback.c.message_id))
            return [dict(r) for r in found.mappings()]

    rows: list[dict[str, Any]] = client.portal.call(read)  # type: ignore[union-attr]
    return rows


def _exported(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/api/feedback", params=params)
    assert response.status_code == 200, response.text
    if params.get("format") == "yaml":
        assert response.headers["content-type"].startswith("application/yaml")
        loaded: dict[str, Any] = yaml.safe_load(response.text)
        return loaded
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith("attachment;")
    document_: dict[str, Any] = response.json()
    return document_


def _a_reply(client: TestClient, prompt: str = "hello") -> tuple[str, str]:
    cid = new_conversation(client)
    send(client, cid, prompt)
    return cid, branch(client, cid)[-1]["id"]


def test_a_rating_is_set_changed_and_cleared(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    cid, reply = _a_reply(client)

    rated = client.put(_url(cid, reply), json={"rating": "good", "comment": "  Clear and right. "})
    assert rated.status_code == 200, rated.text
    first = rated.json()
    assert first["rating"] == "good" and first["comment"] == "Clear and right."
    assert (first["message_id"], first["conversation_id"]) == (reply, cid)

    # Another rating replaces it, comment included; the first rating's time stays.
    changed = client.put(_url(cid, reply), json={"rating": "bad"}).json()
    assert changed["rating"] == "bad" and changed["comment"] is None
    assert changed["created_at"] == first["created_at"]
    assert changed["updated_at"] >= first["updated_at"]
    # A blank comment is none.
    blank = client.put(_url(cid, reply), json={"rating": "bad", "comment": "  \n "}).json()
    assert blank["comment"] is None
    (row,) = _rows(client)
    assert (row["message_id"], row["owner_id"], row["rating"]) == (reply, LOCAL_OWNER, "bad")

    assert client.delete(_url(cid, reply)).status_code == 204
    assert _rows(client) == []
    # Clearing what is clear is done already.
    assert client.delete(_url(cid, reply)).status_code == 204
    # Deleting the conversation takes its ratings with it.
    client.put(_url(cid, reply), json={"rating": "good"})
    assert client.delete(f"/api/conversations/{cid}").status_code == 204
    assert _rows(client) == []


def test_the_message_list_shows_each_replys_rating(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    cid, first = _a_reply(client, "one")
    send(client, cid, "two")
    client.put(_url(cid, first), json={"rating": "bad", "comment": "Too short."})

    items = branch(client, cid)
    assert [m["feedback"] for m in items] == [
        None,
        {"rating": "bad", "comment": "Too short."},
        None,
        None,
    ]
    client.delete(_url(cid, first))
    assert all(m["feedback"] is None for m in branch(client, cid))


def test_only_the_owners_replies_are_rated(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent(), auth="accounts")
    accounts: Accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    tokens: dict[str, dict[str, str]] = {}
    for name in ("alice", "bob"):
        user = client.portal.call(accounts.add_user, name, PASSWORD)  # type: ignore[union-attr]
        _, secret = client.portal.call(accounts.create_token, user, "tests")  # type: ignore[union-attr]
        tokens[name] = {"Authorization": f"Bearer {secret}"}
    alice, bob = tokens["alice"], tokens["bob"]
    cid = client.post("/api/conversations", json={}, headers=alice).json()["id"]
    with client.stream(
        "POST", f"/api/conversations/{cid}/messages", json={"prompt": "hi"}, headers=alice
    ) as response:
        response.read()
    listed = client.get(f"/api/conversations/{cid}/messages", headers=alice).json()["items"]
    prompt, reply = (m["id"] for m in listed)
    good = {"rating": "good"}

    # Bob cannot rate, clear or export Alice's reply: to him it does not exist.
    assert client.put(_url(cid, reply), json=good, headers=bob).status_code == 404
    assert client.put(_url(cid, reply), json=good, headers=alice).status_code == 200
    assert client.delete(_url(cid, reply), headers=bob).status_code == 404
    assert client.get("/api/feedback", headers=bob).json()["cases"] == []
    assert len(client.get("/api/feedback", headers=alice).json()["cases"]) == 1
    # Nobody logged in: 401, before anything is looked up.
    assert client.put(_url(cid, reply), json=good).status_code == 401
    assert client.get("/api/feedback").status_code == 401

    # A prompt is not a reply; a reply is found in its own conversation only.
    assert client.put(_url(cid, prompt), json=good, headers=alice).status_code == 404
    assert client.delete(_url(cid, prompt), headers=alice).status_code == 404
    other = client.post("/api/conversations", json={}, headers=alice).json()["id"]
    assert client.put(_url(other, reply), json=good, headers=alice).status_code == 404
    assert client.put(_url(cid, "nope"), json=good, headers=alice).status_code == 404
    (row,) = _rows(client)
    assert row["rating"] == "good" and row["owner_id"] != "local"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"rating": "meh"}, ("good", "bad")),
        ({}, ("rating",)),
        ({"rating": "good", "comment": "x" * (MAX_COMMENT_CHARS + 1)}, ("4000",)),
        ({"rating": "good", "comment": 12}, ("string",)),
        *[({"rating": "bad", "comment": text}, words) for text, words in BAD_TEXT.values()],
    ],
    ids=["rating", "no-rating", "long-comment", "number", *BAD_TEXT],
)
def test_bad_input_is_a_clear_4xx(
    make_client: Callable[..., TestClient], body: dict[str, Any], words: tuple[str, ...]
) -> None:
    client = make_client(Echo().agent())
    cid, reply = _a_reply(client)
    assert_refused(post_raw(client, "PUT", _url(cid, reply), body), words)
    long_id = client.put(_url(cid, "x" * 65), json={"rating": "good"})
    assert long_id.status_code == 422
    not_json = client.put(_url(cid, reply), content=b"rating=good")
    assert 400 <= not_json.status_code < 500
    assert client.get("/api/feedback", params={"format": "csv"}).status_code == 422
    assert _rows(client) == []


def test_ratings_at_once_leave_one_row(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    cid, reply = _a_reply(client)
    store = _feedback(client)

    async def burst() -> list[Rated | None]:
        return await asyncio.gather(
            *(
                store.rate(LOCAL_OWNER, cid, reply, "good" if i % 2 else "bad", f"take {i}")
                for i in range(16)
            )
        )

    results = client.portal.call(burst)  # type: ignore[union-attr]
    assert all(r is not None for r in results)
    (row,) = _rows(client)
    assert (row["rating"], row["comment"]) in {(r.rating, r.comment) for r in filter(None, results)}
    assert len({r.created_at for r in filter(None, results)}) == 1


# SQLite writes one transaction at a time: nothing can come between there.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_reply_deleted_while_it_is_rated_is_not_found(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    cid, reply = _a_reply(client)
    store = _feedback(client)

    async def race() -> Rated | None:
        async with store.engine.connect() as other:
            await other.begin()
            await other.execute(sa.delete(messages).where(messages.c.id == reply))
            # The rating's insert finds the reply, then waits on the deleting transaction.
            rating = asyncio.create_task(store.rate(LOCAL_OWNER, cid, reply, "good"))
            await asyncio.sleep(0.5)
            assert not rating.done()
            await other.commit()
        return await rating

    assert client.portal.call(race) is None  # type: ignore[union-attr]
    assert _rows(client) == []


def test_the_dataset_holds_the_prompt_and_the_branch_before_it(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent())
    cid = new_conversation(client)
    send(client, cid, "first")
    send(client, cid, "second")
    first_branch = branch(client, cid)
    edit(client, cid, first_branch[2]["id"], "second, edited")
    edited = branch(client, cid)[-1]
    original = first_branch[-1]
    client.put(_url(cid, edited["id"]), json={"rating": "good", "comment": "Right."})
    # A reply of the branch not shown is rated all the same, with its own branch.
    client.put(_url(cid, original["id"]), json={"rating": "bad"})

    exported = _exported(client)
    assert exported["name"] == NAME
    cases = {c["metadata"]["message_id"]: c for c in exported["cases"]}
    assert list(cases) == [original["id"], edited["id"]]  # in the order they were written
    before = [
        {"role": "user", "text": "first"},
        {"role": "assistant", "text": reply_to("first")},
    ]
    good = cases[edited["id"]]
    assert good["inputs"] == {"prompt": "second, edited", "history": before}
    assert good["expected_output"] == reply_to("second, edited")
    rated_at = good["metadata"].pop("rated_at")
    assert datetime.fromisoformat(rated_at).tzinfo is not None
    assert good["metadata"] == {
        "rating": "good",
        "comment": "Right.",
        "model": "function:echo",
        "reply": None,
        "conversation_id": cid,
        "message_id": edited["id"],
    }
    assert good["name"] == f"second, edited ({edited['id']})"
    bad = cases[original["id"]]
    assert bad["inputs"] == {"prompt": "second", "history": before}
    # A bad reply is no expected output: it is kept as what not to answer.
    assert bad["expected_output"] is None
    assert bad["metadata"]["reply"] == reply_to("second")
    assert (bad["metadata"]["rating"], bad["metadata"]["comment"]) == ("bad", None)

    # YAML holds the same document.
    assert _exported(client, format="yaml") == _exported(client)


def test_the_history_is_the_text_of_each_turn(make_client: Callable[..., TestClient]) -> None:
    client = make_client(tool_agent(fails_on="fail"))
    cid = new_conversation(client)
    send(client, cid, "Weather in Paris?")
    send(client, cid, "fail")
    send(client, cid, "And tomorrow?")
    items = branch(client, cid)
    assert items[3]["status"] == "error"
    client.put(_url(cid, items[-1]["id"]), json={"rating": "good"})

    (only,) = _exported(client)["cases"]
    # The tool call and its result, and the thinking, are not the reply's text; the failed
    # turn said nothing, and is left out with its prompt, as the model's history leaves it.
    assert only["inputs"] == {
        "prompt": "And tomorrow?",
        "history": [
            {"role": "user", "text": "Weather in Paris?"},
            {"role": "assistant", "text": "It is 21 °C in Paris."},
        ],
    }
    assert only["expected_output"] == "It is 21 °C in Paris."
    assert only["metadata"]["model"] == "function:tools"


def test_no_ratings_is_an_empty_dataset(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    assert _exported(client) == {"name": NAME, "cases": []}
    assert _exported(client, format="yaml") == {"name": NAME, "cases": []}


def test_parley_feedback_export(
    make_client: Callable[..., TestClient], database_url: str, tmp_path: Path
) -> None:
    client = make_client(Echo().agent())
    cid, reply = _a_reply(client, "from the command line")
    client.put(_url(cid, reply), json={"rating": "good", "comment": "Yes."})
    api = client.get("/api/feedback").json()

    out = tmp_path / "rated.json"
    exported = run_cli("feedback", "export", "--database-url", database_url, "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    assert json.loads(out.read_text()) == api
    # The format from the file's extension, or given; standard output without a file.
    as_yaml = tmp_path / "rated.yml"
    assert (
        run_cli("feedback", "export", "--database-url", database_url, "-o", str(as_yaml)).returncode
        == 0
    )
    assert yaml.safe_load(as_yaml.read_text()) == api
    printed = run_cli("feedback", "export", "--database-url", database_url, "--format", "yaml")
    assert yaml.safe_load(printed.stdout) == api

    # Accounts mode: whose, named.
    add_user(database_url, "alice", PASSWORD)
    nobody = run_cli("feedback", "export", "--database-url", database_url, "--user", "bob")
    assert nobody.returncode == 1 and "no user 'bob'" in nobody.stderr
    alices = run_cli("feedback", "export", "--database-url", database_url, "--user", "alice")
    assert alices.returncode == 0 and json.loads(alices.stdout) == {"name": NAME, "cases": []}


# -- the YAML written by hand reads back as the JSON document --------------------------------


def _turn(prompt: str, reply: str, comment: str | None, rating: str) -> RatedTurn:
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rated = Rated("m1", "c1", "good" if rating == "good" else "bad", comment, stamp, stamp)
    history = [Turn("user", prompt), Turn("assistant", reply)]
    return RatedTurn(rated, prompt, history, reply, None)


async def _written(turns: list[RatedTurn], format: str) -> str:
    async def batches() -> AsyncIterator[list[RatedTurn]]:
        yield turns

    return "".join([p async for p in document(batches(), "yaml" if format == "yaml" else "json")])


# Text a reply may hold: code with indentation, blank lines, trailing spaces and newlines,
# YAML's own syntax, line separators, control characters, a BOM, emoji.
TRICKY = [
    "line one\nline two",
    "def f():\n    return 1\n",
    "\n\nafter blank lines\n\n\n",
    "  indented first\nsecond",
    "trailing spaces  \nnext",
    "- item\n# not a comment\n---\n...\nkey: value",
    "quotes \" and ' and \\ and |",
    "tab\tinside\n\tand leading",
    "separators\u2028and\u2029and\x85end\nx",
    "\ufeffbom\x7f\x9f\x01\x1b",
    "emoji 👍🏽 and ü\nnon-breaking\u00a0space",
    "",
    "null",
    "yes",
    "2026-01-02",
]


@pytest.mark.parametrize("text", TRICKY)
def test_yaml_reads_back_as_written(text: str) -> None:
    turns = [_turn(text, text, text, "good"), _turn(text, text, None, "bad")]
    expected = {"name": NAME, "cases": [case(t) for t in turns]}
    assert yaml.safe_load(asyncio.run(_written(turns, "yaml"))) == expected
    assert json.loads(asyncio.run(_written(turns, "json"))) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text())
def test_any_text_reads_back_from_yaml(text: str, comment: str) -> None:
    turns = [_turn(text, text, comment, "good")]
    expected = {"name": NAME, "cases": [case(t) for t in turns]}
    assert yaml.safe_load(asyncio.run(_written(turns, "yaml"))) == expected
