"""Take the README screenshot from the real UI.

Run: `uv run python scripts/screenshot.py docs/screenshot.png`.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import expect, sync_playwright
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, serve
from tests.web.test_browser import MARKDOWN_REPLY, _agent


def main(out: str) -> None:
    folder = Path(tempfile.mkdtemp())
    with serve(_agent(MARKDOWN_REPLY, []), folder / "shot.db") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(base)
        for prompt in ["How do I greet someone in Python?", "Show me a table too"]:
            box = page.get_by_role("textbox", name="Message")
            box.fill(prompt)
            box.press("Enter")
            last = page.locator('[data-role="assistant"]').last
            expect(last).to_have_attribute("data-status", "complete")
        page.get_by_role("button", name="New chat").click()
        box = page.get_by_role("textbox", name="Message")
        box.fill("A second conversation")
        box.press("Enter")
        expect(page.locator('[data-role="assistant"]').last).to_have_attribute(
            "data-status", "complete"
        )
        page.get_by_role("button", name=re.compile("^How do I greet")).first.click()
        page.wait_for_timeout(500)
        page.screenshot(path=out)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1])
