"""/docs renders the API's documentation in a real browser, offline, under Parley's CSP."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..support.browser import serve
from ..support.models import Echo

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


def test_the_api_docs_render_offline_under_the_csp(browser: Browser, tmp_path: Path) -> None:
    with serve(Echo().agent(), tmp_path / "docs.db") as base:
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
        page.close()
    assert elsewhere == [], "the docs page loaded something from elsewhere"
    assert problems == [], problems
