"""/docs renders the API's documentation in a real browser, offline, under Parley's CSP."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..support.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve
from ..support.models import Echo

pytestmark = pytest.mark.browser


def test_the_api_docs_render_offline_under_the_csp(tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with (
        serve(Echo().agent(), tmp_path / "docs.db") as base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        elsewhere: list[str] = []
        page.on(
            "request",
            lambda r: None if r.url.startswith(base) else elsewhere.append(r.url),
        )
        page.goto(f"{base}/docs")
        # Swagger UI has loaded the schema and lists Parley's operations.
        page.get_by_text("/api/conversations/{conversation_id}/messages").first.wait_for()
        assert page.locator(".opblock").count() > 10
        browser.close()
    assert elsewhere == [], "the docs page loaded something from elsewhere"
    assert problems == [], problems
