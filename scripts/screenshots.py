"""The README's pictures, taken from a real Parley in Debian's Chromium:
`uv run python -m scripts.screenshots` writes docs/screenshot-{light,dark,phone}.png.

The model is a `FunctionModel` with a fixed answer (thinking, a tool call, code, a table and
math), so the pictures show what Parley draws, the same on every machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.support.browser import chromium, serve
from tests.support.databases import sqlite_url
from tests.support.models import tool_agent

DOCS = Path(__file__).resolve().parent.parent / "docs"

PROMPT = "How warm is it in Paris, and how do I add up 1 to n in Python?"
ANSWER = """It is **21 °C** in Paris right now.

Adding up the numbers from 1 to *n* has a closed form, $\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$,
so no loop is needed:

```python
def total(n: int) -> int:
    \"\"\"1 + 2 + … + n, in constant time.\"\"\"
    return n * (n + 1) // 2
```

| n | total |
|--:|------:|
| 10 | 55 |
| 100 | 5,050 |
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        url = sqlite_url(Path(tmp) / "parley.db")
        agent = tool_agent(answer=ANSWER, model_name="gpt-4o")
        with serve(agent, url, generate_titles=False) as base:
            shots = [
                ("light", {"width": 1280, "height": 800}, False),
                ("dark", {"width": 1280, "height": 800}, False),
                ("phone", {"width": 375, "height": 740}, True),
            ]
            conversation = ""
            for name, viewport, mobile in shots:
                context = browser.new_context(
                    viewport=viewport,  # type: ignore[arg-type]
                    color_scheme="dark" if name == "dark" else "light",
                    device_scale_factor=2 if mobile else 1,
                    is_mobile=mobile,
                    has_touch=mobile,
                )
                page = context.new_page()
                if not conversation:
                    page.goto(base)
                    prompt = page.get_by_role("textbox", name="Message")
                    prompt.fill(PROMPT)
                    prompt.press("Enter")
                    reply = page.locator('[data-role="assistant"]').last
                    reply.locator("xpath=self::*[@data-status='complete']").wait_for()
                    page.wait_for_url("**/c/*")
                    conversation = page.url
                else:
                    page.goto(conversation)
                    page.locator('[data-role="assistant"][data-status="complete"]').wait_for()
                page.wait_for_timeout(300)
                page.screenshot(path=str(DOCS / f"screenshot-{name}.png"))
                context.close()


if __name__ == "__main__":
    main()
