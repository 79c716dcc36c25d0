"""A phone in a real Chromium (375 × 740, touch): the header gives the title its room, the
model notice can be dismissed for good, fields are large enough that iOS does not zoom, and a
whole session works by tapping: new chat, send, read, stop, switch conversation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..support.browser import serve
from ..support.databases import sqlite_url
from ..support.models import words_agent
from ..support.seed import seed_conversation

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route, ViewportSize

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 375, "height": 740}
NOTICE = (
    "This is a tiny model that ships with Parley so it works out of the box, offline. Expect "
    "short and often wrong answers; the README says how to use a provider."
)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, as in test_browser.py: the page is under test here."""
    return sqlite_url(tmp_path / "parley.db")


@contextmanager
def _phone(browser: Browser, base: str) -> Iterator[tuple[Page, list[str]]]:
    """A page on a phone-sized touch screen, and the page errors it raises."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield page, errors
    finally:
        context.close()


def _with_notice(route: Route) -> None:
    """/api/info as with the bundled model: the notice shows only with that one, which the
    tests do not load."""
    response = route.fetch()
    info = response.json()
    info["model_notice"] = NOTICE
    route.fulfill(response=response, body=json.dumps(info))


def _px(page: Page, selector: str, prop: str) -> float:
    value = page.locator(selector).evaluate(f"e => getComputedStyle(e).{prop}")
    return float(str(value).removesuffix("px"))


def test_phone_header_notice_and_fields(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(words_agent(3, 0.0), database_url) as base, _phone(browser, base) as (page, errors):
        page.route("**/api/info", _with_notice)
        page.goto(base)

        # The drawer's toggle is an icon named "Conversations": the title keeps the room.
        toggle = page.get_by_role("button", name="Conversations")
        expect(toggle).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(toggle).to_have_attribute("aria-controls", "sidebar")
        expect(toggle).to_have_text("")
        title = page.get_by_role("heading", level=1)
        expect(title).to_have_text("New chat")
        expect(title).to_be_visible()
        header = page.locator(".topbar").bounding_box()
        box = title.bounding_box()
        assert header and box
        assert box["width"] >= 0.6 * header["width"], (box, header)
        expect(page.get_by_test_id("model-name")).to_be_hidden()

        # iOS zooms into a field under 16 px when it takes the focus.
        assert _px(page, "#prompt", "fontSize") >= 16
        assert _px(page, "#sidebar-search", "fontSize") >= 16

        # The notice: two lines at most, and gone for good once dismissed.
        notice = page.get_by_role("note")
        expect(notice).to_contain_text("tiny model")
        text = page.locator("#model-notice-text")
        lines = text.evaluate("e => e.getBoundingClientRect().height") / _px(
            page, "#model-notice-text", "lineHeight"
        )
        assert lines <= 2.05, lines
        notice.get_by_role("button", name="Dismiss").tap()
        expect(notice).to_be_hidden()
        expect(page.get_by_role("textbox", name="Message")).to_be_focused()
        page.reload()
        # /api/info has answered (its model is in the header, hidden on a phone) …
        expect(page.get_by_test_id("model-name")).to_have_text(re.compile(r"words"))
        # … and the notice stays dismissed.
        expect(notice).to_be_hidden()
        assert errors == []


def test_a_session_by_touch(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(words_agent(200, 0.05, word="w"), database_url) as base:
        earlier = seed_conversation(database_url, 2, title="Earlier chat")[0]
        with _phone(browser, f"{base}/c/{earlier}") as (page, errors):
            page.goto(f"{base}/c/{earlier}")
            title = page.get_by_role("heading", level=1)
            expect(title).to_have_text("Earlier chat")
            toggle = page.get_by_role("button", name="Conversations")
            drawer = page.locator("#sidebar")

            # New chat, from the drawer.
            toggle.tap()
            expect(drawer).to_be_visible()
            expect(toggle).to_have_attribute("aria-expanded", "true")
            page.get_by_role("button", name="New chat").tap()
            expect(drawer).to_be_hidden()
            expect(page).to_have_url(f"{base}/")
            expect(title).to_have_text("New chat")

            # Send, read the reply as it comes, stop it.
            prompt = page.get_by_role("textbox", name="Message")
            prompt.tap()
            prompt.fill("tell me a long story")
            page.get_by_role("button", name="Send").tap()
            reply = page.locator('[data-role="assistant"]').first
            expect(reply).to_contain_text("w3 ")
            expect(reply).to_be_in_viewport()
            page.get_by_role("button", name="Stop").tap()
            expect(reply).to_have_attribute("data-status", "stopped")
            expect(page.get_by_role("button", name="Send")).to_be_visible()

            # Switch back to the earlier conversation; a tap beside the drawer closes it.
            toggle.tap()
            expect(drawer).to_be_visible()
            page.locator("#backdrop").tap(position={"x": 360, "y": 400})
            expect(drawer).to_be_hidden()
            toggle.tap()
            page.get_by_role("button", name="Earlier chat", exact=True).tap()
            expect(drawer).to_be_hidden()
            expect(page).to_have_url(f"{base}/c/{earlier}")
            expect(title).to_have_text("Earlier chat")
            expect(page.locator('[data-role="user"]')).to_have_count(1)
            assert errors == []
