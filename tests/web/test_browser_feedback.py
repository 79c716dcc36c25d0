"""Rating replies in a real Chromium: "Good response" with a comment, kept across a reload;
changed to "Bad response" and taken back; a failure said under the reply; all of it by
keyboard alone; and Inspect opens its dialog from the same toolbar."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ..support.axe import Audit, axe_source
from ..support.browser import open_page, serve
from ..support.databases import sqlite_url
from ..support.models import Echo, reply_to

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the page is under test; tests/chat/test_feedback.py covers both databases."""
    return sqlite_url(tmp_path / "parley.db")


def _ask(page: Page, prompt: str) -> Locator:
    """Send `prompt`; wait for its reply to be saved, and return it."""
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name="Message")
    box.fill(prompt)
    box.press("Enter")
    reply = page.locator('[data-role="assistant"]').last
    expect(reply).to_contain_text(reply_to(prompt).replace("**", ""))
    expect(reply).to_have_attribute("data-status", "complete")
    return reply


def _cases(base: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as api:
        response = api.get("/api/feedback")
        assert response.status_code == 200, response.text
        cases: list[dict[str, Any]] = response.json()["cases"]
        return cases


def test_rate_a_reply_with_a_comment_change_it_and_take_it_back(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url) as base:
        page, errors = open_page(browser, base)
        reply = _ask(page, "hello")
        good = reply.get_by_role("button", name="Good response")
        bad = reply.get_by_role("button", name="Bad response")
        expect(good).to_have_attribute("aria-pressed", "false")
        expect(bad).to_have_attribute("aria-pressed", "false")

        good.click()
        expect(good).to_have_attribute("aria-pressed", "true")
        comment = reply.get_by_role("textbox", name="Comment (optional)")
        expect(comment).to_be_focused()
        audit = Audit(page, axe_source(), "light")
        audit("the comment form of a rated reply")
        assert audit.found == []
        comment.fill("Short and right.")
        reply.get_by_role("button", name="Send feedback").click()
        expect(comment).to_have_count(0)
        expect(good).to_be_focused()
        (case,) = _cases(base)
        assert case["metadata"]["rating"] == "good"
        assert case["metadata"]["comment"] == "Short and right."
        assert case["expected_output"] == reply_to("hello")

        # The rating comes back with the conversation.
        page.reload()
        reply = page.locator('[data-role="assistant"]').last
        good = reply.get_by_role("button", name="Good response")
        bad = reply.get_by_role("button", name="Bad response")
        expect(good).to_have_attribute("aria-pressed", "true")
        expect(bad).to_have_attribute("aria-pressed", "false")

        # Bad instead: the comment stays unless changed; Skip leaves it as it is.
        bad.click()
        expect(bad).to_have_attribute("aria-pressed", "true")
        expect(good).to_have_attribute("aria-pressed", "false")
        expect(reply.get_by_role("textbox", name="Comment (optional)")).to_have_value(
            "Short and right."
        )
        reply.get_by_role("button", name="Skip").click()
        expect(reply.get_by_role("textbox", name="Comment (optional)")).to_have_count(0)
        (case,) = _cases(base)
        assert case["metadata"]["rating"] == "bad" and case["expected_output"] is None
        assert case["metadata"]["comment"] == "Short and right."

        # The pressed button takes the rating back.
        bad.click()
        expect(bad).to_have_attribute("aria-pressed", "false")
        expect(reply.get_by_role("textbox", name="Comment (optional)")).to_have_count(0)
        assert _cases(base) == []

        # A failure is said under the reply, and the buttons show what is stored.
        with httpx.Client(base_url=base, trust_env=False) as api:
            cid = page.evaluate("() => location.pathname.split('/').pop()")
            assert api.delete(f"/api/conversations/{cid}").status_code == 204
        good.click()
        expect(reply.get_by_role("alert")).to_contain_text("Could not save your feedback")
        expect(good).to_have_attribute("aria-pressed", "false")
        assert errors == []


def test_rate_by_keyboard_alone(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url) as base:
        page, errors = open_page(browser, base)
        reply = _ask(page, "by keyboard")
        good = reply.get_by_role("button", name="Good response")
        bad = reply.get_by_role("button", name="Bad response")
        # From the message box, Tab goes on to the reply's toolbar.
        page.get_by_role("textbox", name="Message").focus()
        for _ in range(30):
            if good.evaluate("(b) => b === document.activeElement"):
                break
            page.keyboard.press("Shift+Tab")
        expect(good).to_be_focused()

        page.keyboard.press("Enter")
        expect(good).to_have_attribute("aria-pressed", "true")
        comment = reply.get_by_role("textbox", name="Comment (optional)")
        expect(comment).to_be_focused()
        page.keyboard.type("Good, and by keyboard.")
        page.keyboard.press("Enter")  # sends (Shift+Enter would be a new line)
        expect(comment).to_have_count(0)
        expect(good).to_be_focused()
        assert _cases(base)[0]["metadata"]["comment"] == "Good, and by keyboard."

        page.keyboard.press("Tab")
        expect(bad).to_be_focused()
        page.keyboard.press("Space")
        expect(bad).to_have_attribute("aria-pressed", "true")
        expect(comment).to_be_focused()
        page.keyboard.press("Escape")  # skips the comment
        expect(comment).to_have_count(0)
        expect(bad).to_be_focused()
        page.keyboard.press("Space")  # the pressed one: taken back
        expect(bad).to_have_attribute("aria-pressed", "false")
        expect(good).to_have_attribute("aria-pressed", "false")
        assert _cases(base) == []
        assert errors == []


def test_inspect_opens_from_the_toolbar(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url) as base:
        page, errors = open_page(browser, base)
        reply = _ask(page, "inspect me")
        inspect = reply.get_by_role("button", name="Inspect")
        inspect.click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(inspect).to_be_focused()
        assert errors == []
