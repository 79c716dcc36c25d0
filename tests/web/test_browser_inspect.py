"""The Inspect dialog in a real Chromium, by keyboard only: on a reply that called a tool it
shows the model, each request's time to first token, the tool's name, arguments and result,
the usage and the raw messages (Copy JSON); Esc closes it and the focus goes back to the
button that opened it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from pydantic_ai.messages import ModelMessagesTypeAdapter

from ..support.axe import axe_source, violations
from ..support.browser import serve
from ..support.client import new_conversation, send
from ..support.databases import sqlite_url
from ..support.models import tool_agent

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the page is under test here; tests/web/test_inspect.py covers the API on
    both databases."""
    return sqlite_url(tmp_path / "parley.db")


def test_inspect_a_reply_with_a_tool_call_by_keyboard(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    agent = tool_agent(thinking=False, model_name="weather")
    with serve(agent, database_url, generate_titles=False) as base:
        with httpx.Client(base_url=base, trust_env=False) as client:
            cid = new_conversation(client)
            done = send(client, cid, "How warm is Paris?")[-1]
        mid = done.data["id"]
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/c/{cid}")
        reply = page.locator(f'[data-id="{mid}"]')
        expect(reply).to_contain_text("21 °C in Paris")

        # The reply's Inspect button (actions.js), by keyboard.
        opener = reply.get_by_role("button", name="Inspect", exact=True)
        opener.focus()
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Inspect reply")
        expect(dialog).to_be_visible()
        close = dialog.get_by_role("button", name="Close")
        expect(close).to_be_focused()

        model = dialog.get_by_role("region", name="Model and instructions")
        expect(model).to_contain_text("weather")
        requests = dialog.get_by_role("region", name="Requests")
        table = requests.get_by_role("table")
        expect(table.get_by_role("columnheader")).to_have_text(
            [
                "#",
                "Model",
                "Started",
                "Time to first token",
                "Duration",
                "Input tokens",
                "Output tokens",
                "Outcome",
            ]
        )
        rows = table.locator("tbody tr")
        expect(rows).to_have_count(2)
        for row in rows.all():
            expect(row.locator("td").nth(2)).to_have_text(
                re.compile(r"^\d[\d,]* ms$|^\d+\.\d\d s$")
            )
            expect(row.locator("td").nth(1)).to_have_text(re.compile(r"\d{2}:\d{2}:\d{2}"))

        tools = dialog.get_by_role("region", name="Tool calls")
        expect(tools.locator(".inspect__tool-name")).to_have_text(["temperature"])
        expect(tools).to_contain_text("success")
        arguments = tools.get_by_role("group", name="Arguments of temperature")
        assert json.loads(arguments.inner_text()) == {"city": "Paris"}
        expect(tools.get_by_role("group", name="Result of temperature")).to_have_text(
            "21 °C in Paris"
        )
        usage = dialog.get_by_role("region", name="Usage")
        expect(usage).to_contain_text("Model requests")

        # The raw messages: reached by Tab, copied by Enter, the same JSON the API gives.
        copy = dialog.get_by_role("button", name="Copy JSON")
        for _ in range(30):
            if copy.evaluate("b => b === document.activeElement"):
                break
            page.keyboard.press("Tab")
        expect(copy).to_be_focused()
        page.keyboard.press("Enter")
        expect(dialog.get_by_role("status")).to_have_text("Copied the raw messages.")
        copied = str(page.evaluate("navigator.clipboard.readText()"))
        turn = ModelMessagesTypeAdapter.validate_json(copied)
        assert len(turn) == 4
        page.keyboard.press("Tab")
        raw = dialog.get_by_role("group", name="Raw messages (JSON)")
        expect(raw).to_be_focused()

        # Nothing serious for axe in the open dialog.
        found = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
            for v in violations(page, axe_source())
            if v["impact"] in ("serious", "critical")
        ]
        assert found == []

        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(opener).to_be_focused()
        assert errors == []
