"""Parley as a library: `from parley import create_app`, mounted under a path of a developer's
own FastAPI app (every URL it writes carries the path), and a `deps` factory that tells the
agent's tools who is asking."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic_ai import Agent, RunContext
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

import parley
from parley import Asker, Settings, create_app

from ..support.cli import add_user
from ..support.client import parse_sse
from ..support.models import answers_a_prompt

MOUNT = "/chat"


@dataclass
class Who:
    user_id: str
    name: str | None
    agent_header: str | None


def _whoami_agent() -> Agent[Who, str]:
    """An agent whose tool answers with the deps it was given; its model calls the tool, then
    says what the tool returned."""

    async def stream(
        messages: list[ModelMessage], _info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        if answers_a_prompt(messages):
            yield {0: DeltaToolCall(name="whoami", json_args="{}")}
            return
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        (result,) = [p for p in last.parts if isinstance(p, ToolReturnPart)]
        yield f"You are {result.content}."

    agent = Agent(FunctionModel(stream_function=stream), deps_type=Who)

    @agent.tool
    def whoami(ctx: RunContext[Who]) -> str:
        """Who is asking."""
        return f"{ctx.deps.name or 'nobody'} ({ctx.deps.user_id}, {ctx.deps.agent_header})"

    return agent


def _who(asker: Asker) -> Who:
    return Who(asker.user_id, asker.user_name, asker.request.headers.get("x-client"))


async def _who_async(asker: Asker) -> Who:
    return _who(asker)


def _host(parley_app: FastAPI) -> FastAPI:
    """A developer's app: a page of its own, Parley under /chat. No lifespan of Parley's: it
    starts with the first request (web/startup.py), as a plain `app.mount` gives."""
    host = FastAPI()

    @host.get("/")
    def home() -> dict[str, str]:
        return {"app": "host"}

    host.mount(MOUNT, parley_app)
    return host


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}",
        model=None,
        password_time_cost=1,
        password_memory_kib=32,
    )


@pytest.fixture
def mounted(settings: Settings) -> Iterator[TestClient]:
    parley_app = create_app(settings, agent=_whoami_agent(), deps=_who)
    with TestClient(_host(parley_app), base_url="http://localhost") as client:
        yield client


def _reply(client: TestClient, prompt: str, **headers: str) -> dict[str, Any]:
    cid = client.post(f"{MOUNT}/api/conversations", json={}).json()["id"]
    with client.stream(
        "POST",
        f"{MOUNT}/api/conversations/{cid}/messages",
        json={"prompt": prompt},
        headers=headers,
    ) as response:
        assert response.status_code == 200, response.read()
        frames = parse_sse(response.read().decode())
    assert frames[-1].data["status"] == "complete", frames
    export = client.get(f"{MOUNT}/api/conversations/{cid}/export").json()
    (conversation,) = export["conversations"]
    reply = conversation["messages"][-1]
    return {"conversation": cid, "text": reply["text"]}


def test_the_public_api_is_importable_and_typed() -> None:
    assert parley.create_app is create_app
    assert "create_app" in parley.__all__
    with pytest.raises(AttributeError):
        _ = parley.no_such_thing


def test_every_url_a_mounted_parley_writes_carries_the_prefix(mounted: TestClient) -> None:
    # The host's own page is untouched.
    assert mounted.get("/").json() == {"app": "host"}
    page = mounted.get(f"{MOUNT}/").text
    assert '<meta name="parley-root" content="/chat/">' in page
    urls = re.findall(r'(?:href|src)="([^"#]+)"', page)
    assert urls, page
    assert all(url.startswith(f"{MOUNT}/") for url in urls), urls
    # Each of them is served, from under the prefix.
    for url in urls:
        assert mounted.get(url).status_code == 200, url
    conversation_page = mounted.get(f"{MOUNT}/c/whatever")
    assert conversation_page.status_code == 200
    assert 'content="/chat/"' in conversation_page.text

    # The API docs read the OpenAPI document from under the prefix.
    docs = mounted.get(f"{MOUNT}/docs").text
    assert all(u.startswith(f"{MOUNT}/") for u in re.findall(r'(?:href|src)="([^"]+)"', docs))
    assert mounted.get(f"{MOUNT}/openapi.json").status_code == 200

    # A share link is a link under the prefix, and its page names its files from there.
    reply = _reply(mounted, "hello")
    share = mounted.put(
        f"{MOUNT}/api/conversations/{reply['conversation']}/share",
        json={"include_files": False},
    ).json()
    assert share["url"].startswith(f"{MOUNT}/s/")
    shared = mounted.get(share["url"]).text
    assert '<meta name="parley-root" content="/chat/">' in shared
    for url in re.findall(r'(?:href|src)="([^"#]+)"', shared):
        if url.startswith("/"):
            assert url.startswith(f"{MOUNT}/"), url


def test_checks_on_the_path_hold_under_the_prefix(mounted: TestClient) -> None:
    """The upload and import paths are recognised by web/security.py under the prefix: an
    upload needs its header, and an import is streamed past the body limit."""
    refused = mounted.post(f"{MOUNT}/api/files", files={"file": ("a.txt", b"hello", "text/plain")})
    assert refused.status_code == 403, refused.text
    uploaded = mounted.post(
        f"{MOUNT}/api/files",
        files={"file": ("a.txt", b"hello", "text/plain")},
        headers={"X-Parley-Upload": "1"},
    )
    assert uploaded.status_code == 201, uploaded.text
    export = mounted.get(f"{MOUNT}/api/export").content
    imported = mounted.post(
        f"{MOUNT}/api/import", content=export, headers={"Content-Type": "application/json"}
    )
    assert imported.status_code == 200, imported.text


def test_accounts_mode_redirects_and_cookies_stay_under_the_prefix(settings: Settings) -> None:
    add_user(settings.database_url, "alice", "a long password")
    parley_app = create_app(settings.model_copy(update={"auth": "accounts"}), agent=_whoami_agent())
    with TestClient(_host(parley_app), base_url="http://localhost") as client:
        to_login = client.get(f"{MOUNT}/c/abc", follow_redirects=False)
        assert to_login.status_code == 303
        assert to_login.headers["location"] == f"{MOUNT}/login?next={MOUNT}/c/abc"
        login_page = client.get(f"{MOUNT}/login").text
        assert 'content="/chat/"' in login_page
        logged_in = client.post(
            f"{MOUNT}/api/auth/login", json={"name": "alice", "password": "a long password"}
        )
        assert logged_in.status_code == 200, logged_in.text
        cookie = logged_in.headers["set-cookie"]
        assert "Path=/chat/" in cookie, cookie
        assert client.get(f"{MOUNT}/api/auth/me").json()["user"]["name"] == "alice"


@pytest.mark.parametrize("factory", [_who, _who_async], ids=["sync", "async"])
def test_deps_tell_each_user_apart(settings: Settings, factory: Any) -> None:
    add_user(settings.database_url, "alice", "a long password")
    add_user(settings.database_url, "bob", "another long password")
    parley_app = create_app(
        settings.model_copy(update={"auth": "accounts"}), agent=_whoami_agent(), deps=factory
    )
    texts = {}
    # Parley's lifespan run by the host: the clean-shutdown form docs/embedding.md shows.
    host = FastAPI(lifespan=parley_app.router.lifespan_context)
    host.mount(MOUNT, parley_app)
    for name, password in [("alice", "a long password"), ("bob", "another long password")]:
        with TestClient(host, base_url="http://localhost") as client:
            response = client.post(
                f"{MOUNT}/api/auth/login", json={"name": name, "password": password}
            )
            assert response.status_code == 200
            user_id = response.json()["user"]["id"]
            texts[name] = (_reply(client, "who am I?", **{"X-Client": f"{name}-laptop"}), user_id)
    for name, (reply, user_id) in texts.items():
        assert reply["text"] == f"You are {name} ({user_id}, {name}-laptop).", reply


def test_local_mode_deps_have_no_user_name(mounted: TestClient) -> None:
    reply = _reply(mounted, "who am I?")
    assert reply["text"] == "You are nobody (local, None).", reply
