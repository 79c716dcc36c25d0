"""Where the model's context begins, in a real Chromium: once older messages no longer fit
the context window, a separator sits above the first message the next turn sends (the
messages list's `context_start_id`), follows each reply, and is there again after a reload;
a short conversation shows none."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..support.browser import open_page, serve
from ..support.databases import sqlite_url
from ..support.models import prompts_of

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

SEPARATOR = "Earlier messages are not sent to the model"
# A window that holds only a couple of these turns: a prompt of ~200 characters and a reply
# of ~300 are stored as ~1,650 characters of Pydantic AI JSON (~410 tokens as estimated), and
# 1,000 less the 50 kept for the reply leaves room for two turns but not three.
SMALL_WINDOW = {"context_tokens": 1000, "max_output_tokens": 50, "generate_titles": False}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, as in test_browser.py: the page is under test here; the API tests cover
    what is sent on both databases."""
    return sqlite_url(tmp_path / "parley.db")


async def _long_reply(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
    """About 300 characters that name the prompt's number, in chunks: few words, as
    FunctionModel counts tokens by words and a reply may have only 50 of them."""
    number = prompts_of(messages)[-1].split(":")[0]
    text = f"Reply to {number}. " + "lorem" * 56
    for i in range(0, len(text), 20):
        yield text[i : i + 20]


def _agent() -> Agent[None, str]:
    return Agent(FunctionModel(stream_function=_long_reply, model_name="long"))


def _ask(page: Page, number: int) -> None:
    """Send prompt `number` (~200 characters) with Enter and wait for its reply to finish."""
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name="Message")
    box.fill(f"Prompt {number}: " + "x" * 190)
    box.press("Enter")
    reply = page.locator('[data-role="assistant"]').last
    expect(reply).to_contain_text(f"Reply to Prompt {number}.")
    expect(reply).to_have_attribute("data-status", "complete")


def _conversation_id(page: Page) -> str:
    match = re.search(r"/c/([^/?#]+)", page.url)
    assert match, page.url
    return match.group(1)


def _context_start(base: str, cid: str) -> str | None:
    with httpx.Client(base_url=base, trust_env=False) as client:
        response = client.get(f"/api/conversations/{cid}/messages", params={"limit": 1})
        assert response.status_code == 200, response.text
        start: str | None = response.json()["context_start_id"]
        return start


def _expect_marked(page: Page, separator: Locator, message_id: str) -> None:
    """The separator, and only one, is shown right above the message `message_id`."""
    from playwright.sync_api import expect

    # Waits for the marker to move (it follows a reply once the server has answered).
    marked = page.locator(f'[role="separator"] + .msg[data-id="{message_id}"]')
    expect(marked).to_have_count(1)
    expect(separator).to_have_count(1)
    expect(separator).to_be_visible()
    expect(separator).to_have_text(SEPARATOR)
    after = separator.evaluate("(e) => e.nextElementSibling?.dataset.id ?? null")
    assert after == message_id


def test_separator_above_where_the_context_begins(
    browser: Browser, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A FunctionModel's input_tokens leaves out earlier replies: as a provider's count it would
    # say every branch fits. The window is decided here by Parley's estimate.
    async def never(*_args: object) -> bool:
        return False

    monkeypatch.setattr("parley.chat.context._fits_by_provider_count", never)
    from playwright.sync_api import expect

    with serve(_agent(), database_url, **SMALL_WINDOW) as base:
        page, errors = open_page(browser, base)
        separator = page.get_by_role("separator", name=SEPARATOR)
        _ask(page, 1)
        expect(page).to_have_url(re.compile(r"/c/"))
        cid = _conversation_id(page)
        # One turn fits: everything is sent, nothing marked.
        assert _context_start(base, cid) is None
        expect(separator).to_have_count(0)

        for number in range(2, 7):
            _ask(page, number)
        start = _context_start(base, cid)
        assert start is not None, "six long turns must not fit a 1,000-token window"
        first = page.locator(".msg").first
        assert first.get_attribute("data-id") != start, "some messages must be left out"
        # After the last reply, without a reload.
        _expect_marked(page, separator, start)

        page.reload()
        expect(page.locator('[data-role="assistant"]')).to_have_count(6)
        _expect_marked(page, separator, start)
        assert _context_start(base, cid) == start

        # A fresh conversation with one prompt: no separator.
        page.get_by_role("button", name="New chat", exact=True).click()
        expect(page.locator(".msg")).to_have_count(0)
        _ask(page, 7)
        expect(page).not_to_have_url(re.compile(re.escape(cid)))
        assert _context_start(base, _conversation_id(page)) is None
        expect(separator).to_have_count(0)
        page.reload()
        expect(page.locator('[data-role="assistant"]')).to_have_count(1)
        expect(separator).to_have_count(0)
        assert errors == []
