"""Tool calls the user approves, in a real Chromium: the reply waits with Approve and Deny on
the call, survives a reload, and goes on in place once answered."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..support.browser import open_page, serve
from ..support.databases import sqlite_url
from ..support.models import approval_agent

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "parley.db")


def _ask(page: Page) -> Locator:
    from playwright.sync_api import expect

    prompt = page.get_by_role("textbox", name="Message")
    prompt.fill("Delete the old report")
    prompt.press("Enter")
    reply = page.locator('[data-role="assistant"]').last
    expect(reply).to_have_attribute("data-status", "awaiting_approval")
    expect(reply.get_by_role("button", name="Approve")).to_be_visible()
    return reply


def test_approve_after_a_reload(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(approval_agent(), database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        reply = _ask(page)
        expect(reply.get_by_test_id("approval-status")).to_have_text("Waiting for your approval.")
        # The arguments, as text.
        expect(reply.locator(".tool__body").first).to_contain_text('"path": "/tmp/report.txt"')
        page.reload()
        reply = page.locator('[data-role="assistant"]').last
        expect(reply).to_have_attribute("data-status", "awaiting_approval")
        reply.get_by_role("button", name="Approve").click()
        expect(reply).to_have_attribute("data-status", "complete")
        reply = page.locator('[data-role="assistant"]').last
        expect(reply).to_contain_text("The tool said: deleted /tmp/report.txt")
        expect(reply.get_by_test_id("approval-status")).to_contain_text("Approved by local")
        expect(reply.get_by_role("button", name="Approve")).to_have_count(0)
        # Still one reply, in place.
        expect(page.locator('[data-role="assistant"]')).to_have_count(1)
        assert errors == []


def test_deny_with_a_reason_and_edit_arguments(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(approval_agent(), database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        reply = _ask(page)
        # Edited arguments that do not fit the tool: the server says why, nothing is run.
        reply.get_by_text("Edit arguments").click()
        reply.get_by_role("textbox", name="Arguments (JSON)").fill('{"path": 42}')
        reply.get_by_role("button", name="Approve").click()
        expect(page.get_by_text("do not fit the tool")).to_be_visible()
        reply = page.locator('[data-role="assistant"]').last
        expect(reply).to_have_attribute("data-status", "awaiting_approval")
        reply.get_by_role("textbox", name="Reason for a denial (optional)").fill("keep it")
        reply.get_by_role("button", name="Deny").click()
        reply = page.locator('[data-role="assistant"]').last
        expect(reply).to_have_attribute("data-status", "complete")
        expect(reply.get_by_test_id("approval-status")).to_contain_text("Denied by local")
        expect(reply.get_by_test_id("approval-status")).to_contain_text("keep it")
        expect(reply).to_contain_text("The user denied this tool call: keep it")
        assert errors == []
