"""The Tools dialog in a real Chromium: the MCP servers, their status and tools, and switching
one off for a conversation by keyboard, saved and honoured by the next reply."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from ..support.browser import open_page, serve
from ..support.client import new_conversation
from ..support.databases import sqlite_url
from ..support.mcp_agents import ToolCaller
from ..support.mcp_servers import stdio_command

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the page is under test here; tests/agents/test_mcp.py covers the API on
    both databases."""
    return sqlite_url(tmp_path / "parley.db")


def test_the_tools_dialog_lists_servers_and_switches_one_off(
    browser: Browser, database_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    config = tmp_path / "mcp.json"
    broken = {"command": sys.executable, "args": ["-c", "raise SystemExit(3)"]}
    servers = {"calc": stdio_command(tmp_path / "starts.txt"), "broken": broken}
    config.write_text(json.dumps({"mcpServers": servers}))
    caller = ToolCaller()
    with serve(caller.agent(), database_url, generate_titles=False, mcp_config=config) as base:
        with httpx.Client(base_url=base, trust_env=False) as client:
            cid = new_conversation(client)
        page, errors = open_page(browser, base)
        tools = page.get_by_role("button", name="Tools", exact=True)
        expect(tools).to_be_disabled()  # no conversation open
        page.goto(f"{base}/c/{cid}")
        expect(tools).to_be_enabled()
        tools.focus()
        page.keyboard.press("Enter")

        dialog = page.get_by_role("dialog", name="Tools")
        expect(dialog).to_be_visible()
        calc = dialog.get_by_role("region", name="calc")
        expect(calc).to_contain_text("Running")
        expect(calc).to_contain_text("Asks before tool calls, except tools that only read.")
        tool_names = calc.get_by_role("list", name="Tools of calc").locator("code")
        expect(tool_names).to_have_text(["calc_add", "calc_pid", "calc_remember"])
        expect(calc.locator(".tools__tool").last).to_contain_text("asks first")
        failed = dialog.get_by_role("region", name="broken")
        expect(failed).to_contain_text("Could not start")
        expect(failed.get_by_role("checkbox")).to_have_count(0)

        use = calc.get_by_role("checkbox", name="Use in this conversation")
        expect(use).to_be_checked()
        use.focus()
        page.keyboard.press("Space")
        expect(use).not_to_be_checked()
        expect(dialog.get_by_role("status")).to_have_text("calc is off in this conversation.")
        with httpx.Client(base_url=base, trust_env=False) as client:
            saved = client.get(f"/api/conversations/{cid}").json()
        assert saved["tools_off"] == ["calc"]

        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(tools).to_be_focused()

        # Opened again, it shows what was saved; the next reply is offered no calc tool.
        page.keyboard.press("Enter")
        expect(use).not_to_be_checked()
        page.keyboard.press("Escape")
        page.get_by_role("textbox", name="Message").fill("call calc_add {}")
        page.keyboard.press("Enter")
        expect(page.locator('[data-role="assistant"]').last).to_contain_text("no tool calc_add")
        assert caller.offered[-1] == []
        assert errors == []


def test_the_tools_button_is_hidden_without_servers(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(ToolCaller().agent(), database_url, generate_titles=False) as base:
        with httpx.Client(base_url=base, trust_env=False) as client:
            cid = new_conversation(client)
        page, errors = open_page(browser, f"{base}/c/{cid}")
        expect(page.get_by_role("button", name="Conversation settings")).to_be_enabled()
        expect(page.get_by_role("button", name="Tools", exact=True)).to_be_hidden()
        assert errors == []
