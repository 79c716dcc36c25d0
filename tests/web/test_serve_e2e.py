"""End to end through a real `parley serve` process: CLI, uvicorn, SQLite file, HTTP streams.

The model is either an OpenAI-compatible fake on 127.0.0.1 (so the provider's HTTP path is real
too) or a FunctionModel agent loaded with `--agent`. The server gets a clean HOME and only the
environment a test gives it, so nothing of the developer's (keys, proxies, config) leaks in and
no request can reach a real provider.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from parley.runs.titles import MAX_TITLE_TOKENS

from ..support.client import Client, Frame, new_conversation, saved_messages, send
from ..support.fake_openai import (
    CHAT_PATHS,
    RESPONSES_PATHS,
    FakeOpenAI,
    provider_env,
    reply_to,
)
from ..support.processes import ROOT, Server

pytestmark = pytest.mark.slow

STATIC = ROOT / "src" / "parley" / "static"


def streamed_text(frames: list[Frame]) -> str:
    return "".join(f.data["d"] for f in frames if f.event == "text")


def messages_of(client: Client, conversation_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/conversations/{conversation_id}/messages")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def assert_no_tracebacks(server: Server) -> None:
    log = server.output()
    assert "Traceback" not in log, log


# --- a. history through a real provider API ---------------------------------------------------


@pytest.mark.parametrize(
    ("model", "paths"),
    [("openai:gpt-4o", RESPONSES_PATHS), ("openai-chat:gpt-4o", CHAT_PATHS)],
    ids=["responses-api", "chat-completions-api"],
)
def test_turn_five_carries_its_own_conversation_to_the_provider(
    serve: Callable[..., Server], fake_openai: FakeOpenAI, model: str, paths: frozenset[str]
) -> None:
    server = serve(env=provider_env(fake_openai, model))
    with server.client() as client:
        assert client.get("/api/info").json()["model"].endswith("gpt-4o")
        a, b = new_conversation(client), new_conversation(client)
        prompts = {a: [f"alpha {i}: tell me about apples" for i in range(5)]}
        prompts[b] = [f"beta {i}: tell me about bananas" for i in range(5)]
        last_request = {}
        for i in range(5):
            for cid in (a, b):
                prompt = prompts[cid][i]
                frames = send(client, cid, prompt)
                assert [f.event for f in frames][:2] == ["user", "start"]
                done = frames[-1]
                assert (done.event, done.data["status"]) == ("done", "complete"), frames
                assert streamed_text(frames) == reply_to(prompt)
                assert done.data["usage"]["output_tokens"] == len(reply_to(prompt).split())
                # One provider request per turn, and it is this turn's.
                assert len(fake_openai.replies) == 2 * i + (1 if cid == a else 2)
                last_request[cid] = fake_openai.replies[-1]

        fifth = last_request[a]
        assert fifth.path in paths
        assert (fifth.body["model"], fifth.body["stream"]) == ("gpt-4o", True)
        expected = []
        for prompt in prompts[a][:4]:
            expected += [("user", prompt), ("assistant", reply_to(prompt))]
        assert fifth.history() == [*expected, ("user", prompts[a][4])]
        assert "banana" not in json.dumps(fifth.body)
        assert "apple" not in json.dumps(last_request[b].body)

        saved = saved_messages(client, a)
        assert [(m["role"], m["text"], m["status"]) for m in saved] == [
            (role, text, "complete") for role, text in [*expected, ("user", prompts[a][4])]
        ] + [("assistant", reply_to(prompts[a][4]), "complete")]

        # Each conversation was titled once, by one small unstreamed request to the provider.
        titles = fake_openai.unstreamed
        assert len(titles) == 2
        cap = "max_completion_tokens" if fifth.path in CHAT_PATHS else "max_output_tokens"
        assert {t.body[cap] for t in titles} == {MAX_TITLE_TOKENS}
        assert not any(t.body.get("tools") for t in titles)
        titled = client.get(f"/api/conversations/{a}").json()
        assert titled["title_source"] == "model"
        assert titled["title"] == f"Echo: Question: {prompts[a][0]}"
    assert_no_tracebacks(server)


# --- b. a user's own agent, with a tool ------------------------------------------------------


def test_an_agent_with_a_tool_streams_lists_loads_and_continues(
    serve: Callable[..., Server],
) -> None:
    server = serve("--agent", "tests.support.agents_for_cli:weather_agent")
    with server.client() as client:
        cid = new_conversation(client)
        frames = send(client, cid, "Weather in Paris?")
        events = [f.event for f in frames]
        assert [*events[:2], events[-1]] == ["user", "start", "done"], events
        assert events.index("tool_call") < events.index("tool_result") < events.index("text")
        call = next(f for f in frames if f.event == "tool_call").data
        result = next(f for f in frames if f.event == "tool_result").data
        assert call["tool_name"] == "temperature"
        assert json.loads(call["args"]) == {"city": "Paris"}
        assert result["tool_call_id"] == call["tool_call_id"]
        assert result["content"] == "21 °C in Paris"
        assert streamed_text(frames) == "It is 21 °C in Paris."
        assert frames[-1].data["status"] == "complete"

        listed = client.get("/api/conversations")
        assert listed.status_code == 200
        assert cid in [c["id"] for c in listed.json()["items"]]
        user, assistant = saved_messages(client, cid)
        assert user["text"] == "Weather in Paris?"
        assert [p["type"] for p in assistant["parts"]] == ["tool_call", "tool_result", "text"]
        assert assistant["parts"][0]["tool_call_id"] == call["tool_call_id"]
        assert assistant["parts"][1]["content"] == "21 °C in Paris"
        assert assistant["text"] == "It is 21 °C in Paris."

        second = send(client, cid, "And tomorrow?")
        assert (second[-1].event, second[-1].data["status"]) == ("done", "complete"), second
        assert [m["status"] for m in messages_of(client, cid)] == ["complete"] * 4
    assert_no_tracebacks(server)


# --- c. a client that hangs up -----------------------------------------------------------------


def test_a_client_that_hangs_up_mid_stream_leaves_the_server_healthy(
    serve: Callable[..., Server], fake_openai: FakeOpenAI
) -> None:
    # Per piece of 4 characters: this reply streams for about 5 s, time enough to look at it
    # mid-reply from a second client even on a loaded machine.
    fake_openai.delay = 0.15
    prompt = "please keep talking for a good while after I hang up on you, thanks"
    server = serve(env=provider_env(fake_openai, "openai:gpt-4o"))
    with server.client() as client:
        cid = new_conversation(client)
        with client.stream(
            "POST", f"/api/conversations/{cid}/messages", json={"prompt": prompt}
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("event: text"):
                    break  # hang up after the first delta
            else:
                pytest.fail("the stream ended without a text event")

    with server.client() as client:
        assert client.get("/api/info").status_code == 200
        # Still generating: the hang-up really happened mid-reply.
        assert messages_of(client, cid)[-1]["status"] == "generating"
        deadline = time.monotonic() + 15
        while (last := messages_of(client, cid)[-1])["status"] == "generating":
            assert time.monotonic() < deadline, "the reply never finished"
            time.sleep(0.1)
        assert last["status"] == "complete", last
        assert saved_messages(client, cid)[-1]["text"] == reply_to(prompt)
        assert len(fake_openai.replies) == 1

        # Nothing is left busy: the conversation takes the next message.
        fake_openai.delay = 0.0
        again = send(client, cid, "still there?")
        assert again[-1].data["status"] == "complete"
        assert streamed_text(again) == reply_to("still there?")
    assert server.process.poll() is None
    assert_no_tracebacks(server)


# --- d. the page works with the network unplugged ---------------------------------------------

# XML namespace names identify a vocabulary (createElementNS, xmlns=); browsers never fetch them.
_NAMESPACES = frozenset(
    {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml", "http://www.w3.org/1999/xlink"}
)
_URL = re.compile(r"""https?://[^\s'"`)<>]*""")
_JS_IMPORT = re.compile(r"""(?:\bimport\b|\bexport\b)[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]""")
# Not preceded by "/" or ".": '/api/import' is a path in a string, not an import.
_JS_BARE_IMPORT = re.compile(r"""(?<![/.\w])import\s*\(?\s*['"]([^'"]+)['"]""")
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def _without_comments(text: str, content_type: str) -> str:
    if "html" in content_type or "svg" in content_type:
        return re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    if "javascript" in content_type:
        # A line comment starts at a line's start or after a delimiter; `https://` inside a
        # string has a colon before its slashes, so it is not mistaken for one.
        text = re.sub(r"(?m)(^|[\s;{}(),])//.*$", r"\1", text)
    return text


def _linked(text: str, content_type: str) -> list[str]:
    if "javascript" in content_type:
        return _JS_IMPORT.findall(text) + _JS_BARE_IMPORT.findall(text)
    if "css" in content_type:
        return [a or b for a, b in _CSS_URL.findall(text)]
    return []


def test_the_page_and_its_assets_load_with_the_network_unplugged(
    serve: Callable[..., Server],
) -> None:
    if not (STATIC / "index.html").exists():
        pytest.skip("src/parley/static/index.html does not exist yet")
    server = serve("--agent", "tests.support.agents_for_cli:weather_agent")
    origin = urlsplit(server.url)
    with server.client() as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        parser = _References()
        parser.feed(page.text)
        assert parser.found, "index.html references no assets"

        pending = [(urljoin(f"{server.url}/", ref), "/") for ref in parser.found]
        seen: dict[str, str] = {f"{server.url}/": page.headers["content-type"]}
        external = _external_urls(_without_comments(page.text, "text/html"))
        while pending:
            url, referrer = pending.pop()
            parts = urlsplit(url)
            assert (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc), (
                f"{referrer} loads {url} from another origin"
            )
            url = parts._replace(fragment="").geturl()
            if url in seen:
                continue
            assert len(seen) < 100, "too many assets; is something linking in a loop?"
            response = client.get(url)
            assert response.status_code == 200, f"{referrer} references {parts.path}: {response}"
            content_type = response.headers.get("content-type", "")
            seen[url] = content_type
            suffix = Path(parts.path).suffix
            if suffix in {".js", ".mjs"}:
                # Module scripts are refused under `nosniff` unless served as JavaScript.
                assert "javascript" in content_type, f"{parts.path} served as {content_type}"
            if suffix == ".css":
                assert content_type.startswith("text/css"), f"{parts.path} served as {content_type}"
            if not re.search(r"text/|javascript|json|svg", content_type):
                continue  # binary: images, fonts
            code = _without_comments(response.text, content_type)
            external += [f"{u} (in {parts.path})" for u in _external_urls(code)]
            pending += [(urljoin(url, ref), parts.path) for ref in _linked(code, content_type)]

    assert external == [], "assets must not load anything from the network"
    assert any(urlsplit(u).path.startswith("/assets/") for u in seen), seen


def _external_urls(text: str) -> list[str]:
    return [u for u in _URL.findall(text) if u not in _NAMESPACES]
