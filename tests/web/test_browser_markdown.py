"""Math and table alignment in a real Chromium: TeX arrives as MathML the browser draws itself
(inline and display), and a table's centred and right-aligned columns look it, live and after
a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..support.browser import open_page, serve
from ..support.databases import sqlite_url

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator

pytestmark = pytest.mark.browser

ANSWER = [
    "Euler's identity, $e^{i\\pi} + 1 = 0$, costs $5 to print.\n\n",
    "$$\n",
    "\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}\n",
    "$$\n\n",
    "| left | centre | right |\n",
    "|:-----|:------:|------:|\n",
    "| a | b | c |\n",
    "\nDone.\n",
]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "parley.db")


def _agent() -> Agent[None, str]:
    async def stream(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        for piece in ANSWER:
            yield piece

    return Agent(FunctionModel(stream_function=stream, model_name="math"))


def _check(reply: Locator) -> None:
    from playwright.sync_api import expect

    inline = reply.locator('math[display="inline"]')
    display = reply.locator('math[display="block"]')
    expect(inline).to_have_count(1)
    expect(display).to_have_count(1)
    # Drawn as MathML: a fraction box with its parts, laid out by the browser.
    assert display.locator("mfrac").count() == 1
    box = display.bounding_box()
    assert box is not None and box["width"] > 50 and box["height"] > 20
    assert display.evaluate("(m) => getComputedStyle(m).display") == "block math"
    text = reply.inner_text()
    assert "$" in text and "$5" in text  # the price stays text
    assert "\\frac" not in text and "$$" not in text
    cells = reply.locator("td")
    aligns = [cells.nth(i).evaluate("(td) => getComputedStyle(td).textAlign") for i in range(3)]
    assert aligns == ["left", "center", "right"]


def test_math_is_mathml_and_table_columns_keep_their_alignment(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    with serve(_agent(), database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        prompt = page.get_by_role("textbox", name="Message")
        prompt.fill("Show me some maths")
        prompt.press("Enter")
        reply = page.locator('[data-role="assistant"]').last
        expect(reply).to_have_attribute("data-status", "complete")
        _check(reply)
        page.reload()
        reply = page.locator('[data-role="assistant"]').last
        expect(reply).to_have_attribute("data-status", "complete")
        _check(reply)
        assert errors == []
