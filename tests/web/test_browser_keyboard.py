"""The keyboard in a real Chromium: every shortcut the "Keyboard shortcuts" dialog lists, the
skip link, focus going back where it was after each dialog, focus kept inside the phone
drawer; and the theme button (light, dark, or the system's, remembered)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..support.browser import open_page, serve
from ..support.databases import sqlite_url
from ..support.models import Echo, words_agent
from ..support.seed import default_text, seed_conversation

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

# The page's background in each palette (style.css --bg).
LIGHT_BG = "rgb(255, 255, 255)"
DARK_BG = "rgb(22, 23, 27)"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, as in test_browser.py: the page is under test here."""
    return sqlite_url(tmp_path / "parley.db")


def _ask(page: Page, prompt: str) -> Locator:
    """Send `prompt` from the message box; its reply (once it shows)."""
    replies = page.locator('[data-role="assistant"]')
    count = replies.count()
    box = page.get_by_role("textbox", name="Message")
    box.fill(prompt)
    box.press("Enter")
    return replies.nth(count)


def _code_agent() -> Agent[None, str]:
    """Answers with a block of highlighted Python."""

    async def stream(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        yield "```python\ndef f(x):\n    return x + 1\n```\n"

    return Agent(FunctionModel(stream_function=stream, model_name="code"))


def _focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement?.id ?? ''"))


def test_new_chat_search_and_focus_the_message_box(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        box = page.get_by_role("textbox", name="Message")
        reply = _ask(page, "first")
        expect(reply).to_have_attribute("data-status", "complete")
        expect(page).to_have_url(re.compile(r"/c/[\w-]+$"))

        # Ctrl+Shift+O from the message box: a new chat, the box ready for it.
        box.press("Control+Shift+O")
        expect(page).to_have_url(f"{base}/")
        expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()
        expect(page.locator('[data-role="assistant"]')).to_have_count(0)
        expect(box).to_be_focused()
        # ⌘ does the same on a Mac.
        page.go_back()
        expect(page.locator('[data-role="assistant"]')).to_have_count(1)
        box.press("Meta+Shift+O")
        expect(page).to_have_url(f"{base}/")

        # Ctrl+K: the search dialog, its input focused; Esc gives the focus back.
        box.press("Control+k")
        dialog = page.get_by_role("dialog", name="Search")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("combobox")).to_be_focused()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(box).to_be_focused()

        # Shift+Esc: back to the message box from anywhere.
        new_chat = page.get_by_role("button", name="New chat")
        new_chat.focus()
        page.keyboard.press("Shift+Escape")
        expect(box).to_be_focused()
        page.get_by_role("region", name="Chat history").focus()
        page.keyboard.press("Shift+Escape")
        expect(box).to_be_focused()

        # Each control says its shortcut to assistive technology.
        expect(new_chat).to_have_attribute("aria-keyshortcuts", "Control+Shift+O Meta+Shift+O")
        expect(page.get_by_role("button", name="Search", exact=True)).to_have_attribute(
            "aria-keyshortcuts", "Control+K Meta+K"
        )
        expect(box).to_have_attribute("aria-keyshortcuts", "Shift+Escape")
        expect(page.locator("#stop")).to_have_attribute("aria-keyshortcuts", "Escape")
        assert errors == []


def test_escape_stops_the_reply_from_anywhere(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(words_agent(200, 0.05, word="w"), database_url) as base:
        page, errors = open_page(browser, base)
        reply = _ask(page, "go on")
        expect(reply).to_contain_text("w2 ")
        # Not only from the message box: with the focus in the chat history too.
        page.get_by_role("region", name="Chat history").focus()
        page.keyboard.press("Escape")
        expect(reply).to_have_attribute("data-status", "stopped")
        # Shift+Esc is not Esc: it moves the focus, and stops nothing.
        second = _ask(page, "again")
        expect(second).to_contain_text("w2 ")
        page.get_by_role("button", name="New chat").focus()
        page.keyboard.press("Shift+Escape")
        expect(page.get_by_role("textbox", name="Message")).to_be_focused()
        expect(second).to_contain_text("w6 ")
        expect(second).to_have_attribute("data-status", "generating")
        page.keyboard.press("Escape")
        expect(second).to_have_attribute("data-status", "stopped")
        assert errors == []


EMPTY = "nothing copied yet"


def _copied(page: Page) -> str:
    """The clipboard's text once something replaced EMPTY (copying is asynchronous)."""
    text = EMPTY
    for _ in range(50):
        text = str(page.evaluate("navigator.clipboard.readText()"))
        if text != EMPTY:
            break
        page.wait_for_timeout(100)
    return text


def test_copy_the_last_reply(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url, generate_titles=False) as base:
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base)
        expect(_ask(page, "the first one")).to_have_attribute("data-status", "complete")
        expect(_ask(page, "the second one")).to_have_attribute("data-status", "complete")

        page.evaluate(f"navigator.clipboard.writeText({EMPTY!r})")
        page.get_by_role("textbox", name="Message").press("Control+Shift+C")
        copied = _copied(page)
        # The last reply: its markdown (its Copy button) or its text as shown.
        assert copied.startswith("You said:"), copied
        assert "the second one" in copied and "the first one" not in copied, copied

        # ⌘ on a Mac, and from anywhere.
        page.evaluate(f"navigator.clipboard.writeText({EMPTY!r})")
        page.get_by_role("region", name="Chat history").focus()
        page.keyboard.press("Meta+Shift+C")
        assert "the second one" in _copied(page)

        # Without a Copy button on the reply: its text as shown.
        page.evaluate(
            """() => {
                for (const b of document.querySelectorAll('[data-role="assistant"] button')) {
                    const name = b.getAttribute('aria-label') ?? b.textContent;
                    if (name.trim() === 'Copy') b.remove();
                }
            }"""
        )
        page.evaluate(f"navigator.clipboard.writeText({EMPTY!r})")
        page.keyboard.press("Control+Shift+C")
        assert _copied(page) == "You said: the second one. That is all."
        expect(page.get_by_role("status").filter(has_text="Copied the last reply.")).to_be_visible()
        assert errors == []


def test_copy_the_last_reply_from_a_search_hit(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    def text(i: int) -> str:
        return "Where did the wombat go?" if i == 100 else default_text(i)

    with serve(Echo().agent(), database_url) as base:
        _cid, ids = seed_conversation(database_url, 300, text=text)
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base)
        page.get_by_role("searchbox", name="Search conversations").fill("wombat")
        page.get_by_test_id("search-results").get_by_role(
            "button", name=re.compile("wombat")
        ).click()
        expect(page.locator(f'.msg[data-id="{ids[100]}"]')).to_be_focused()
        # The log shows the messages around the hit, not the newest reply …
        expect(page.locator(f'.msg[data-id="{ids[-1]}"]')).to_have_count(0)
        assert page.locator('#log > [data-role="assistant"]').count() > 0

        # … which is the one copied all the same.
        page.evaluate(f"navigator.clipboard.writeText({EMPTY!r})")
        page.keyboard.press("Control+Shift+C")
        assert _copied(page) == default_text(299)
        expect(page.get_by_role("status").filter(has_text="Copied the last reply.")).to_be_visible()
        assert errors == []


def test_alt_arrows_move_between_conversations(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url) as base:
        # Seeded oldest first: the list shows the newest first, so Third, Second, First.
        ids = {
            title: seed_conversation(database_url, 2, title=title)[0]
            for title in ("First", "Second", "Third")
        }
        page, errors = open_page(browser, f"{base}/c/{ids['Second']}")
        title = page.locator("#conversation-title")
        expect(title).to_have_text("Second")
        box = page.get_by_role("textbox", name="Message")

        box.press("Alt+ArrowDown")
        expect(page).to_have_url(f"{base}/c/{ids['First']}")
        expect(title).to_have_text("First")
        expect(page.locator('[aria-current="page"]')).to_have_text("First")
        # Past the end: nothing moves.
        box.press("Alt+ArrowDown")
        page.wait_for_timeout(200)
        expect(page).to_have_url(f"{base}/c/{ids['First']}")

        box.press("Alt+ArrowUp")
        expect(title).to_have_text("Second")
        box.press("Alt+ArrowUp")
        expect(page).to_have_url(f"{base}/c/{ids['Third']}")
        expect(title).to_have_text("Third")
        expect(box).to_be_focused()

        # In a field holding text they are the field's (Option+↑/↓ moves the caret on a Mac).
        box.fill("a draft\nof two lines")
        box.press("Alt+ArrowDown")
        search = page.get_by_role("searchbox", name="Search conversations")
        search.fill("Sec")
        search.press("Alt+ArrowUp")
        search.press("Alt+ArrowDown")
        page.wait_for_timeout(200)
        expect(page).to_have_url(f"{base}/c/{ids['Third']}")
        expect(box).to_have_value("a draft\nof two lines")
        search.fill("")
        box.fill("")

        # From a new chat, down goes to the top of the list.
        box.press("Control+Shift+O")
        expect(page).to_have_url(f"{base}/")
        box.press("Alt+ArrowDown")
        expect(page).to_have_url(f"{base}/c/{ids['Third']}")
        assert errors == []


def test_question_mark_lists_every_shortcut(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url) as base:
        page, errors = open_page(browser, base)
        box = page.get_by_role("textbox", name="Message")
        dialog = page.get_by_role("dialog", name="Keyboard shortcuts")

        # In a text field, ? is a question mark.
        box.press("?")
        expect(box).to_have_value("?")
        expect(dialog).to_be_hidden()

        log = page.get_by_role("region", name="Chat history")
        log.focus()
        page.keyboard.press("?")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading", name="Keyboard shortcuts")).to_be_visible()
        rows = dialog.get_by_role("row")
        listed = {
            "New chat": "Ctrl + Shift + O",
            "Search conversations": "Ctrl + K",
            "Go to the message box": "Shift + Esc",
            "Stop the reply being written": "Esc",
            "Copy the last reply": "Ctrl + Shift + C",
            "Previous conversation": "Alt + ↑",
            "Next conversation": "Alt + ↓",
            "Show keyboard shortcuts": "?",
            "Send the message": "Enter",
            "New line in the message": "Shift + Enter",
        }
        for label, keys in listed.items():
            row = rows.filter(has_text=label)
            expect(row).to_have_count(1)
            expect(row.get_by_role("cell").last).to_have_text(keys)
        # Esc closes it, and the focus is back where it was.
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(log).to_be_focused()

        # The button opens it too, and gets the focus back from Close.
        button = page.get_by_role("button", name="Keyboard shortcuts")
        expect(button).to_have_attribute("aria-keyshortcuts", "Shift+?")
        button.click()
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()
        expect(button).to_be_focused()
        assert errors == []


def test_skip_link_is_the_first_tab_stop(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url) as base:
        page, errors = open_page(browser, base)
        box = page.get_by_role("textbox", name="Message")
        expect(box).to_be_focused()
        # As after the address bar: Tab from the very start of the page (a focus point put
        # before everything else, itself no Tab stop).
        page.evaluate(
            """() => {
                const start = document.createElement('span');
                start.tabIndex = -1;
                document.body.prepend(start);
                start.focus();
            }"""
        )
        link = page.get_by_role("link", name="Skip to message box")
        expect(link).not_to_be_in_viewport()
        page.keyboard.press("Tab")
        expect(link).to_be_focused()
        expect(link).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect(box).to_be_focused()
        expect(page).to_have_url(f"{base}/")  # no #prompt in the address
        assert errors == []


def test_dialogs_give_the_focus_back(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url) as base:
        cid = seed_conversation(database_url, 2, title="Kept")[0]
        page, errors = open_page(browser, f"{base}/c/{cid}")
        expect(page.locator("#conversation-title")).to_have_text("Kept")

        search = page.get_by_role("button", name="Search", exact=True)
        search.click()
        expect(page.get_by_role("dialog", name="Search")).to_be_visible()
        page.keyboard.press("Escape")
        expect(search).to_be_focused()

        settings = page.get_by_role("button", name="Conversation settings")
        settings.click()
        expect(page.get_by_role("dialog", name="Conversation settings")).to_be_visible()
        page.keyboard.press("Escape")
        expect(settings).to_be_focused()

        delete = page.get_by_role("button", name="Delete Kept")
        delete.click()
        confirm = page.get_by_role("dialog", name="Delete conversation?")
        expect(confirm).to_be_visible()
        page.keyboard.press("Escape")
        expect(confirm).to_be_hidden()
        expect(delete).to_be_focused()
        # The dialog's `close` event (a task queued when it closed) gives the focus back as
        # well: let it run before moving the focus, or it would take it back from the log.
        page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 50))")

        # Ctrl+K from the chat history: back there.
        log = page.get_by_role("region", name="Chat history")
        log.focus()
        page.keyboard.press("Control+k")
        expect(page.get_by_role("dialog", name="Search")).to_be_visible()
        page.keyboard.press("Escape")
        expect(log).to_be_focused()
        assert errors == []


def test_tab_stays_inside_the_open_drawer(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url) as base:
        seed_conversation(database_url, 2, title="One")
        seed_conversation(database_url, 2, title="Two")
        page = browser.new_page(viewport={"width": 600, "height": 800})
        page.goto(base)
        toggle = page.get_by_role("button", name="Conversations")
        sidebar = page.locator("#sidebar")
        expect(sidebar).to_be_hidden()
        toggle.focus()
        page.keyboard.press("Enter")
        expect(sidebar).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(page.get_by_role("button", name="New chat")).to_be_focused()

        inside = "document.getElementById('sidebar').contains(document.activeElement)"
        seen: set[str] = set()
        for _ in range(40):
            page.keyboard.press("Tab")
            assert page.evaluate(inside), _focused_id(page)
            seen.add(_focused_id(page))
        for _ in range(40):
            page.keyboard.press("Shift+Tab")
            assert page.evaluate(inside), _focused_id(page)
        # It went round: the theme button at the end and New chat at the start both came up.
        assert {"new-chat", "theme-toggle"} <= seen, seen

        # Esc closes it, and the focus is back on the button that opened it.
        page.keyboard.press("Escape")
        expect(sidebar).to_be_hidden()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(toggle).to_be_focused()
        # The chat works again: Tab leaves the button for the rest of the page.
        page.keyboard.press("Tab")
        assert not page.evaluate(inside)


def _dark(colour: str) -> bool:
    """An rgb() colour near black."""
    return all(int(c) < 80 for c in re.findall(r"\d+", colour)[:3])


def _background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def test_theme_button_light_dark_or_the_system(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(_code_agent(), database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        page.emulate_media(color_scheme="light")
        expect(_ask(page, "some code")).to_have_attribute("data-status", "complete")
        theme = page.get_by_role("button", name="Theme")
        expect(theme).to_have_accessible_description("System")
        assert _background(page) == LIGHT_BG
        page.emulate_media(color_scheme="dark")
        assert _background(page) == DARK_BG

        # System (dark here) → Light → Dark → System.
        theme.click()
        expect(theme).to_have_accessible_description("Light")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        assert _background(page) == LIGHT_BG
        assert page.evaluate("getComputedStyle(document.documentElement).colorScheme") == "light"

        page.emulate_media(color_scheme="light")
        theme.click()
        expect(theme).to_have_accessible_description("Dark")
        assert _background(page) == DARK_BG
        assert page.evaluate("getComputedStyle(document.documentElement).colorScheme") == "dark"
        # The code colours follow the choice, not the system (light here).
        code = page.locator(".md .highlight").first
        assert _dark(str(code.evaluate("e => getComputedStyle(e).backgroundColor")))

        # Remembered: dark again after a reload, from the first paint on (theme.js in <head>).
        page.reload()
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        assert _background(page) == DARK_BG
        expect(theme).to_have_accessible_description("Dark")

        # Back to the system's: it follows the system again, both ways.
        theme.click()
        expect(theme).to_have_accessible_description("System")
        expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile(".*"))
        assert _background(page) == LIGHT_BG
        page.emulate_media(color_scheme="dark")
        assert _background(page) == DARK_BG
        page.reload()
        assert _background(page) == DARK_BG
        page.emulate_media(color_scheme="light")
        assert _background(page) == LIGHT_BG
        assert errors == []
