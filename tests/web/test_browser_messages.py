"""A reply's text in a real Chromium: Copy (the reply's markdown, a code block's code, also
over plain HTTP where there is no clipboard API), code blocks naming their language, an
unfinished code block shown as code while it streams (and copied as shown), the reply being
generated as the one live region, and no "0 in · 0 out" for a reply that used nothing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..support.browser import serve
from ..support.databases import sqlite_url

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

CODE = 'def greet(name):\n    return f"hello {name}"'
REPLY = f"""Here is **the function**:

```python
{CODE}
```

And a plain block:

```
no language here
```

That is all."""

# Streamed in pieces, waiting at GATE: the opening fence and two lines of code are shown
# before the fence closes.
OPEN_FENCE = ["Intro line.\n\n", "```python\n", "def f():\n", "    return 1\n"]
CLOSE_FENCE = ["```\n\n", "After the code.\n"]

# The font stack of --mono in style.css: the browser's own `code` font is only "monospace".
MONO = "ui-monospace"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, as in test_browser.py: the page is under test here."""
    return sqlite_url(tmp_path / "parley.db")


def _chunks(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


async def _wait(gate: threading.Event) -> None:
    """Wait for the test's thread to open `gate`, leaving the server's loop free."""
    for _ in range(3000):
        if gate.is_set():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the test never opened the gate")


def _gated_agent(
    first: list[str], rest: list[str], gate: threading.Event, calls: list[int]
) -> Agent[None, str]:
    """Replies REPLY to the first prompt; to the later ones streams `first`, waits for
    `gate`, then streams `rest`."""

    async def stream(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        calls.append(1)
        if len(calls) == 1:
            for chunk in _chunks(REPLY):
                yield chunk
            return
        for chunk in first:
            yield chunk
        await _wait(gate)
        for chunk in rest:
            yield chunk

    return Agent(FunctionModel(stream_function=stream, model_name="gated"))


@contextmanager
def _chat(
    browser: Browser, agent: Agent[None, str], database_url: str
) -> Iterator[tuple[str, Page, list[str]]]:
    """Parley answering with `agent`; its base URL, a page on it allowed to read and write
    the clipboard, and the page errors that page raises."""
    with serve(agent, database_url, generate_titles=False) as base:
        context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base)
        try:
            yield base, page, errors
        finally:
            context.close()


def _ask(page: Page, prompt: str) -> Locator:
    box = page.get_by_role("textbox", name="Message")
    box.fill(prompt)
    box.press("Enter")
    return page.locator('[data-role="assistant"]').last


NOTHING = "(nothing copied)"


def _clear_clipboard(page: Page) -> None:
    page.evaluate(f"navigator.clipboard.writeText({NOTHING!r})")


def _copied(page: Page) -> str:
    """What the clipboard holds once something was copied (after _clear_clipboard)."""
    for _ in range(100):
        text: str = page.evaluate("navigator.clipboard.readText()")
        if text != NOTHING:
            return text
        page.wait_for_timeout(50)
    raise AssertionError("nothing was copied")


def _font(locator: Locator) -> str:
    font: str = locator.evaluate("(e) => getComputedStyle(e).fontFamily")
    return font


def test_copy_puts_the_reply_and_a_code_block_on_the_clipboard(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    agent = _gated_agent([], [], threading.Event(), [])
    with _chat(browser, agent, database_url) as (_base, page, errors):
        reply = _ask(page, "show me code")
        expect(reply).to_have_attribute("data-status", "complete")
        status = page.get_by_role("status").filter(has_text="Copied")

        # The reply's markdown source, as streamed.
        copy = reply.get_by_role("button", name="Copy", exact=True)
        expect(copy).to_be_enabled()
        assert "msg__action" not in (copy.get_attribute("class") or "")
        _clear_clipboard(page)
        copy.click()
        expect(status).to_have_text("Copied")
        assert _copied(page) == REPLY
        # Its name is still what it does.
        expect(copy).to_have_accessible_name("Copy")

        # Each code block says its language, is focusable and named, and copies its code.
        blocks = reply.locator(".md .codeblock")
        expect(blocks).to_have_count(2)
        expect(blocks.nth(0).locator(".codeblock__lang")).to_have_text("python")
        expect(blocks.nth(1).locator(".codeblock__lang")).to_have_text("text")
        python = reply.get_by_role("group", name="python code")
        expect(python).to_have_attribute("tabindex", "0")
        expect(python.locator("code span").first).to_be_visible()  # highlighted
        _clear_clipboard(page)
        blocks.nth(0).get_by_role("button", name="Copy code").click()
        expect(status).to_have_text("Copied")
        assert _copied(page) == CODE
        _clear_clipboard(page)
        blocks.nth(1).get_by_role("button", name="Copy code").click()
        assert _copied(page) == "no language here"

        # A saved reply: the list sends its HTML only, Copy fetches its source.
        page.reload()
        reply = page.locator('[data-role="assistant"]').last
        expect(reply.locator(".md .codeblock")).to_have_count(2)
        expect(reply.get_by_role("group", name="python code")).to_have_attribute("tabindex", "0")
        _clear_clipboard(page)
        reply.get_by_role("button", name="Copy", exact=True).click()
        expect(page.get_by_role("status").filter(has_text="Copied")).to_have_text("Copied")
        assert _copied(page) == REPLY
        assert errors == []


def test_a_copy_that_fails_says_so(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    agent = _gated_agent([], [], threading.Event(), [])
    with _chat(browser, agent, database_url) as (_base, page, errors):
        reply = _ask(page, "show me code")
        expect(reply).to_have_attribute("data-status", "complete")
        page.evaluate(
            """() => {
              const refuse = () => Promise.reject(new DOMException('No', 'NotAllowedError'));
              navigator.clipboard.writeText = refuse;
              navigator.clipboard.write = refuse;
            }"""
        )
        block = reply.locator(".md .codeblock").first
        block.get_by_role("button", name="Copy code").click()
        expect(block.locator(".copy-error")).to_have_text("Could not copy")
        expect(page.get_by_test_id("copy-status")).to_have_text("Could not copy")
        reply.get_by_role("button", name="Copy", exact=True).click()
        expect(reply.locator(".msg__toolbar .copy-error")).to_have_text("Could not copy")
        page.wait_for_timeout(200)
        assert errors == []  # no unhandled rejection


# Parley over plain HTTP on a home network: not a secure context, no navigator.clipboard.
NO_CLIPBOARD = (
    "Object.defineProperty(Navigator.prototype, 'clipboard', "
    "{ value: undefined, configurable: true })"
)


def _clear_by_keys(page: Page, box: Locator) -> None:
    """Put NOTHING on the clipboard as the user would, from `box`."""
    box.fill(NOTHING)
    box.select_text()
    page.keyboard.press("Control+C")
    box.fill("")


def _pasted(page: Page, box: Locator) -> str:
    """What the clipboard holds once something replaced NOTHING (copying may wait for the
    text to be fetched), pasted into `box` as the user would."""
    text = NOTHING
    for _ in range(50):
        box.fill("")
        box.focus()
        page.keyboard.press("Control+V")
        text = box.input_value()
        if text != NOTHING:
            break
        page.wait_for_timeout(100)
    box.fill("")
    return text


def test_copy_without_the_clipboard_api(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    agent = _gated_agent([], [], threading.Event(), [])
    with serve(agent, database_url, generate_titles=False) as base:
        context = browser.new_context()
        try:
            context.add_init_script(NO_CLIPBOARD)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base)
            assert page.evaluate("navigator.clipboard === undefined")
            box = page.get_by_role("textbox", name="Message")
            reply = _ask(page, "show me code")
            expect(reply).to_have_attribute("data-status", "complete")
            status = page.get_by_test_id("copy-status")

            _clear_by_keys(page, box)
            reply.get_by_role("button", name="Copy", exact=True).click()
            expect(status).to_have_text("Copied")
            assert _pasted(page, box) == REPLY
            _clear_by_keys(page, box)
            reply.locator(".md .codeblock").first.get_by_role("button", name="Copy code").click()
            assert _pasted(page, box) == CODE

            # A saved reply: its source is fetched first, then copied.
            page.reload()
            reply = page.locator('[data-role="assistant"]').last
            expect(reply.locator(".md .codeblock")).to_have_count(2)
            _clear_by_keys(page, box)
            reply.get_by_role("button", name="Copy", exact=True).click()
            assert _pasted(page, box) == REPLY
            expect(status).to_have_text("Copied")

            # And the last reply, from the keyboard; the focus stays where it was.
            _clear_by_keys(page, box)
            box.press("Control+Shift+C")
            expect(page.get_by_test_id("copy-status")).to_have_text("Copied")
            expect(box).to_be_focused()
            assert _pasted(page, box) == REPLY
            assert errors == []
        finally:
            context.close()


def test_a_streaming_code_block_shows_as_code_before_its_fence_closes(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    gate = threading.Event()
    calls: list[int] = []
    agent = _gated_agent(OPEN_FENCE, CLOSE_FENCE, gate, calls)
    with _chat(browser, agent, database_url) as (_base, page, errors):
        expect(_ask(page, "first")).to_have_attribute("data-status", "complete")
        first = page.locator('[data-role="assistant"]').first
        reply = _ask(page, "stream some code")
        log = page.get_by_test_id("message-list")

        tail = reply.locator(".md-tail")
        box = tail.locator(".codeblock")
        expect(box.locator(".codeblock__lang")).to_have_text("python")
        code = box.locator("pre code")
        expect(code).to_have_text("def f():\n    return 1\n")
        # Not proportional text with its fence: code, in its box, set like finished code.
        assert "```" not in tail.inner_text()
        assert MONO in _font(code)
        assert _font(code) == _font(first.locator(".md pre code").first)
        expect(box.get_by_role("group", name="python code")).to_be_visible()
        expect(reply.locator(".md")).to_have_text("Intro line.")
        expect(reply).to_have_attribute("data-status", "generating")

        # Only the reply being generated is announced, politely.
        md = reply.locator(".md")
        expect(md).to_have_attribute("aria-live", "polite")
        expect(md).to_have_attribute("aria-atomic", "false")
        assert log.evaluate("(e) => e.closest('[aria-live]') === null")
        # (A reply stays live a moment after it ends, for its last block.)
        expect(first.locator("[aria-live]")).to_have_count(0)

        # Copying is allowed while a reply is generated; changing the conversation is not.
        expect(first.get_by_role("button", name="Regenerate")).to_be_disabled()
        _clear_clipboard(page)
        first.locator(".md .codeblock").first.get_by_role("button", name="Copy code").click()
        expect(page.get_by_role("status").filter(has_text="Copied")).to_have_text("Copied")
        assert _copied(page) == CODE

        # The reply being written (its Copy button hidden until it ends) copies as shown.
        _clear_clipboard(page)
        page.get_by_role("textbox", name="Message").press("Control+Shift+C")
        assert _copied(page) == "Intro line.\n\ndef f():\n    return 1"
        expect(page.get_by_role("status").filter(has_text="Copied the last reply.")).to_be_visible()

        gate.set()
        expect(reply).to_have_attribute("data-status", "complete")
        # The highlighted block takes the streamed one's place.
        expect(reply.locator(".md pre.highlight code.language-python")).to_have_count(1)
        expect(reply.locator(".md .codeblock__lang")).to_have_text("python")
        expect(reply.locator(".md")).to_contain_text("After the code.")
        expect(tail).to_be_empty()
        assert "```" not in reply.inner_text()
        # The reply has ended: it is no longer a live region.
        expect(md).not_to_have_attribute("aria-live", "polite")

        # A history that opens is never announced.
        page.reload()
        expect(page.locator('[data-role="assistant"]')).to_have_count(2)
        expect(log.locator("[aria-live]")).to_have_count(0)
        assert errors == []


def test_a_stopped_reply_that_used_nothing_shows_no_token_counts(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    gate = threading.Event()

    async def stream(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        await _wait(gate)  # stopped before it says anything
        yield "never shown"

    agent = Agent(FunctionModel(stream_function=stream, model_name="silent"))
    try:
        with _chat(browser, agent, database_url) as (base, page, errors):
            reply = _ask(page, "say nothing")
            expect(reply).to_have_attribute("data-status", "generating")
            page.get_by_role("button", name="Stop").click()
            expect(reply).to_have_attribute("data-status", "stopped")
            expect(reply).to_contain_text("Stopped")

            # The server saved usage, all zeros: the case under test.
            cid = page.url.rsplit("/", 1)[-1]
            with httpx.Client(base_url=base, trust_env=False) as client:
                listed = client.get(f"/api/conversations/{cid}/messages").json()["items"]
            usage = listed[-1]["usage"]
            assert usage is not None
            assert usage["input_tokens"] == usage["output_tokens"] == 0

            usage_text = reply.get_by_test_id("reply-usage")
            expect(usage_text).to_have_text("")
            assert "0 in" not in reply.inner_text()
            page.reload()
            reply = page.locator('[data-role="assistant"]').last
            expect(reply).to_have_attribute("data-status", "stopped")
            expect(reply.get_by_test_id("reply-usage")).to_have_text("")
            assert "0 in" not in reply.inner_text()
            assert errors == []
    finally:
        gate.set()
