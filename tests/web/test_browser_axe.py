"""axe-core audits the page in every state a user meets, in both themes: no serious or critical
violation anywhere.

axe-core comes from the npm registry (tests/support/axe.py finds it); the test injects it into
the page itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..support.axe import Audit, axe_source
from ..support.browser import serve
from ..support.databases import sqlite_url
from ..support.models import tool_agent
from ..support.seed import seed_conversation

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

ANSWER = """Here is what the tool said, and more.

```python
def add(a: int, b: int) -> int:
    return a + b  # a long line that needs to scroll sideways on a phone, like real code does
```

| city | °C |
|:-----|---:|
| Paris | 21 |

The identity $e^{i\\pi} + 1 = 0$, and on its own line:

$$\\sum_{i=1}^n i = \\frac{n(n+1)}{2}$$

- one point
- another point
"""


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "parley.db")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_serious_violation_in_any_state(browser: Browser, database_url: str, theme: str) -> None:
    from playwright.sync_api import expect

    source = axe_source()
    agent = tool_agent(answer=ANSWER, fails_on="fail", model_name="audited")
    with serve(agent, database_url, generate_titles=False) as base:
        long_id, _ = seed_conversation(database_url, 2_000, title="A long conversation")
        # bypass_csp: axe is injected by the test, not served by Parley.
        context = browser.new_context(bypass_csp=True, color_scheme=theme)  # type: ignore[arg-type]
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        audit = Audit(page, source, theme)
        try:
            page.goto(base)
            expect(page.get_by_role("textbox", name="Message")).to_be_visible()
            audit("empty")

            prompt = page.get_by_role("textbox", name="Message")
            prompt.fill("What is the weather in Paris?")
            prompt.press("Enter")
            reply = page.locator('[data-role="assistant"]').last
            expect(reply).to_have_attribute("data-status", "complete")
            for details in reply.locator("details").all():
                details.locator("summary").click()
            audit("a reply with thinking, a tool call, code, a table and math")

            prompt.fill("fail")
            prompt.press("Enter")
            failed = page.locator('[data-role="assistant"]').last
            expect(failed).to_have_attribute("data-status", "error")
            audit("a failed reply")

            page.get_by_role("button", name="Conversation settings").click()
            settings = page.get_by_role("dialog", name="Conversation settings")
            expect(settings).to_be_visible()
            # Loaded: Save is enabled (until then it is disabled and faded, and under load
            # its fade-in could start just as axe reads its colours).
            expect(settings.get_by_role("button", name="Save")).to_be_enabled()
            audit("the settings dialog")
            page.keyboard.press("Escape")

            page.get_by_role("button", name="Search", exact=True).click()
            expect(page.get_by_role("dialog", name="Search")).to_be_visible()
            page.get_by_role("combobox", name="Search all conversations").fill("weather")
            expect(page.get_by_role("option").first).to_be_visible()
            audit("the search dialog with results")
            page.keyboard.press("Escape")

            page.locator("body").press("?")
            expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
            audit("the keyboard shortcuts dialog")
            page.keyboard.press("Escape")

            page.get_by_role("button", name="Delete A long conversation").click()
            expect(page.get_by_role("dialog", name="Delete conversation?")).to_be_visible()
            audit("the delete confirmation")
            page.keyboard.press("Escape")

            page.goto(f"{base}/c/{long_id}")
            expect(page.locator('[data-role="assistant"]').last).to_contain_text("1999")
            audit("a 2,000-message conversation")

            page.set_viewport_size({"width": 375, "height": 740})
            page.get_by_role("button", name="Conversations").click()
            expect(page.get_by_role("navigation", name="Conversations")).to_be_visible()
            audit("the phone's conversations drawer")
        finally:
            context.close()
        assert errors == []
    assert audit.found == [], "\n".join(audit.found)
