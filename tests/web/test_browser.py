"""End to end in a real Chromium: chat, markdown, history after reload, and no XSS."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..support.browser import serve
from ..support.cli import add_user
from ..support.databases import sqlite_url
from ..support.models import prompts_of, words_agent

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: what these tests check is the page, and a
    browser run costs seconds of CPU. The PostgreSQL side of the same paths runs
    in the API and end-to-end tests (tests/web, tests/runs)."""
    return sqlite_url(tmp_path / "parley.db")


pytestmark = pytest.mark.browser


@pytest.fixture(params=["", "/chat"], ids=["alone", "mounted"])
def mount(request: pytest.FixtureRequest) -> str:
    """Each core flow twice: Parley on its own, and mounted at /chat of a developer's FastAPI
    app (docs/embedding.md), where every URL the page uses must carry the prefix."""
    prefix: str = request.param
    return prefix


MARKDOWN_REPLY = """## Answer to {prompt}

Here is a list:

- first **bold** item
- second item with `inline code`

| name | value |
|------|-------|
| a    | 1     |

```python
def greet(name):
    return f"hello {{name}}"
```

See [the docs](https://ai.pydantic.dev) for more.
"""

XSS = [
    "<script>window.__xss = (window.__xss || 0) + 1</script>",
    '<img src=x onerror="window.__xss = (window.__xss || 0) + 1">',
    "[click me](javascript:window.__xss=1)",
    '<a href="javascript:window.__xss=1">link</a>',
    '<svg onload="window.__xss=1"></svg>',
    "![img](javascript:window.__xss=1)",
]


def _agent(reply: str, calls: list[list[ModelMessage]]) -> Agent[None, str]:
    async def stream(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        calls.append(list(messages))
        text = (
            reply.replace("{prompt}", prompts_of(messages)[-1])
            .replace("{{", "{")
            .replace("}}", "}")
        )
        for i in range(0, len(text), 5):
            yield text[i : i + 5]

    return Agent(FunctionModel(stream_function=stream, model_name="browser"))


def _ask(page: Page, prompt: str) -> Locator:
    """Type `prompt` into the message box and send it with Enter; the last message of the
    assistant (the reply, once it shows)."""
    box = page.get_by_role("textbox", name="Message")
    box.fill(prompt)
    box.press("Enter")
    return page.locator('[data-role="assistant"]').last


def test_chat_stream_markdown_and_history_after_reload(
    browser: Browser, database_url: str, mount: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    calls: list[list[ModelMessage]] = []
    with serve(_agent(MARKDOWN_REPLY, calls), database_url, mount=mount) as base:
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base)

        box = page.get_by_role("textbox", name="Message")
        expect(box).to_be_focused()
        box.fill("first question")
        box.press("Enter")

        reply = page.locator('[data-role="assistant"]').last
        expect(reply.locator("h2")).to_have_text("Answer to first question")
        expect(reply.locator("li")).to_have_count(2)
        expect(reply.locator("table td").first).to_have_text("a")
        expect(reply.locator("pre code span").first).to_be_visible()
        expect(reply.locator("a[href='https://ai.pydantic.dev']")).to_have_count(1)
        expect(reply).to_have_attribute("data-status", "complete")
        expect(page).to_have_url(re.compile(r"/c/[\w-]+$"))

        box.fill("second question")
        page.get_by_role("button", name="Send").click()
        expect(page.locator('[data-role="assistant"]')).to_have_count(2)
        expect(page.locator('[data-role="assistant"]').last.locator("h2")).to_have_text(
            "Answer to second question"
        )
        expect(page.locator('[data-role="assistant"]').last).to_have_attribute(
            "data-status", "complete"
        )
        assert prompts_of(calls[-1]) == ["first question", "second question"]

        page.reload()
        expect(page.locator('[data-role="user"]')).to_have_count(2)
        expect(page.locator('[data-role="user"]').first).to_contain_text("first question")
        expect(page.locator('[data-role="assistant"]').first.locator("h2")).to_have_text(
            "Answer to first question"
        )
        expect(page.get_by_role("button", name="New chat")).to_be_visible()
        assert all(url.startswith(base) for url in requested), requested
        assert errors == []
        page.screenshot(path=str(tmp_path / "screenshot.png"))


def test_markup_in_user_and_model_text_does_not_execute(
    browser: Browser, database_url: str, mount: str
) -> None:
    from playwright.sync_api import Dialog, expect

    reply = "\n\n".join(XSS)
    with serve(_agent(reply, []), database_url, mount=mount) as base:
        page = browser.new_page()
        dialogs: list[str] = []

        def dismiss(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", dismiss)
        page.goto(base)
        assistant = _ask(page, "\n".join(XSS))
        expect(assistant).to_have_attribute("data-status", "complete")
        page.reload()
        expect(page.locator('[data-role="assistant"]')).to_have_count(1)
        page.wait_for_timeout(300)
        assert page.evaluate("window.__xss") is None
        assert dialogs == []
        log = page.get_by_role("region", name="Chat history")
        assert log.locator("script").count() == 0
        assert log.locator("[onerror], [onload]").count() == 0
        assert log.locator("a[href^='javascript'], img[src^='javascript']").count() == 0
        # The user's text is shown as text, not dropped.
        expect(page.locator('[data-role="user"]').first).to_contain_text("<script>")


def test_reload_mid_stream_continues_the_same_reply(
    browser: Browser, database_url: str, mount: str
) -> None:
    from playwright.sync_api import expect

    words = 60
    full = " ".join(f"w{i}" for i in range(words))
    with serve(words_agent(words, 0.05, word="w"), database_url, mount=mount) as base:
        page = browser.new_page()
        page.goto(base)
        reply = _ask(page, "a long one")
        expect(reply).to_contain_text("w5 ")
        page.reload()
        reply = page.locator('[data-role="assistant"]').last
        expect(reply).to_have_attribute("data-status", "complete", timeout=15_000)
        # No gap and no duplicate: the text is the reply, once.
        shown = " ".join(reply.locator(".md").inner_text().split())
        assert shown == full
        expect(page.locator('[data-role="assistant"]')).to_have_count(1)
        expect(page.locator('[data-role="user"]')).to_have_count(1)


def test_stop_keeps_the_partial_reply_and_the_next_message_works(
    browser: Browser, database_url: str, mount: str
) -> None:
    from playwright.sync_api import expect

    with serve(words_agent(200, 0.05, word="w"), database_url, mount=mount) as base:
        page = browser.new_page()
        page.goto(base)
        reply = _ask(page, "go")
        expect(reply).to_contain_text("w3 ")
        stop = page.get_by_role("button", name="Stop")
        expect(stop).to_be_visible()
        stop.click()
        expect(reply).to_have_attribute("data-status", "stopped")
        expect(reply).to_contain_text("Stopped")
        kept = reply.locator(".md").inner_text()
        assert kept.startswith("w0 w1 w2 w3")
        page.reload()
        reloaded = page.locator('[data-role="assistant"]').last
        expect(reloaded).to_have_attribute("data-status", "stopped")

        # Esc stops too, and the conversation takes the next message.
        _ask(page, "again")
        second = page.locator('[data-role="assistant"]').nth(1)
        expect(second).to_contain_text("w2 ")
        page.get_by_role("textbox", name="Message").press("Escape")
        expect(second).to_have_attribute("data-status", "stopped")
        expect(page.get_by_role("button", name="Send")).to_be_visible()


def test_an_error_shows_inline_with_regenerate_and_the_page_recovers(
    browser: Browser, database_url: str, mount: str
) -> None:
    from playwright.sync_api import expect

    calls: list[list[ModelMessage]] = []

    async def stream(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        calls.append(list(messages))
        yield "Half a "
        if len(calls) == 1:
            raise RuntimeError("the provider fell over")
        yield "full answer."

    agent = Agent(FunctionModel(stream_function=stream, model_name="flaky"))
    with serve(agent, database_url, mount=mount) as base:
        page = browser.new_page()
        page.goto(base)
        failed = _ask(page, "try me")
        expect(failed).to_have_attribute("data-status", "error")
        expect(failed.get_by_role("alert")).to_contain_text("the provider fell over")
        expect(failed).to_contain_text("Half a")
        failed.get_by_role("button", name="Regenerate").click()
        # A new version of the reply, in its place: the prompt is not sent again.
        regenerated = page.locator('[data-role="assistant"]').last
        expect(regenerated).to_have_attribute("data-status", "complete")
        expect(regenerated).to_contain_text("Half a full answer.")
        expect(page.locator('[data-role="assistant"]')).to_have_count(1)
        expect(page.locator('[data-role="user"]')).to_have_count(1)
        expect(regenerated.locator(".versions")).to_contain_text("2 / 2")
        assert prompts_of(calls[-1]) == ["try me"]
        expect(page.get_by_role("textbox", name="Message")).to_be_enabled()


def test_accounts_mode_login_chat_tokens_and_logout(
    browser: Browser, database_url: str, mount: str
) -> None:
    import httpx
    from playwright.sync_api import expect

    add_user(database_url, "alice", "a long password")
    with serve(
        _agent("Hello **{prompt}**", []), database_url, auth="accounts", mount=mount
    ) as base:
        page = browser.new_page()
        login_page = re.compile(re.escape(f"{base}/login?next={mount}/") + "$")
        page.goto(base + "/")
        expect(page).to_have_url(login_page)
        page.get_by_label("Name").fill("alice")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("Wrong name or password")
        page.get_by_label("Password").fill("a long password")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(base + "/")
        # The page has started (it shows who is logged in) before anything is typed.
        expect(page.get_by_test_id("account-name")).to_have_text("alice")

        reply = _ask(page, "there")
        expect(reply.locator("strong")).to_have_text("there")
        cookies = page.context.cookies()
        session = next(c for c in cookies if c["name"] == "parley_session")
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        # Mounted, the session is Parley's alone: the host app's pages never receive it.
        assert session["path"] == f"{mount}/"

        page.get_by_role("button", name="API tokens").click()
        dialog = page.get_by_role("dialog", name="API tokens")
        dialog.get_by_label("Token name").fill("script")
        dialog.get_by_role("button", name="Create token").click()
        secret = dialog.get_by_role("textbox", name="New token").input_value()
        assert secret.startswith("pk_")
        with httpx.Client(base_url=base, trust_env=False) as api:
            bearer = {"Authorization": f"Bearer {secret}"}
            assert api.get("/api/conversations", headers=bearer).status_code == 200
            dialog.get_by_role("button", name="Revoke script").click()
            expect(dialog.get_by_role("button", name="Revoke script")).to_have_count(0)
            assert api.get("/api/conversations", headers=bearer).status_code == 401
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()

        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/login"))
        page.goto(base + "/")
        expect(page).to_have_url(login_page)
