"""Following a fast reply and paging through a long history, in a real Chromium: the log
follows a reply streamed at 2 ms a token to its end, stops only when the reader scrolls up
("Jump to latest" then brings them back; a sideways wheel, or one at the top, is no scrolling
up), and a 2,000-message conversation is read from its newest message to its first and back
by scrolling alone, with a bounded DOM that never takes away a draft or the focus, and that
shrinks back once a reply ends; a search hit deep in it still opens around the message, and
an edit there makes it the newest. A tap on "Jump to latest" does not open the phone's
keyboard."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..support.browser import open_page, serve
from ..support.databases import sqlite_url
from ..support.models import Echo
from ..support.seed import default_text, seed_conversation

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

TOKENS = 4_000
PACE = 0.002  # seconds a token: a fast model
# A jump settles over up to two seconds (jumplatest.js SETTLE_MS); a loaded machine lays
# out later still: the outcome is waited for, not timed.
SETTLED = 15_000
JUMP = "Jump to latest"

# How far (px) the bottom of the log is below its visible end.
DISTANCE = "(log) => log.scrollHeight - log.scrollTop - log.clientHeight"
ELEMENTS = "(log) => log.querySelectorAll('*').length"

# The first message on screen and how far below the log's top it is, after scrolling the log
# to `to` if given (in the same task: before any page can load).
FIRST_ON_SCREEN = """(log, to) => {
    if (to !== null) log.scrollTop = to;
    const top = log.getBoundingClientRect().top;
    for (const m of log.querySelectorAll(':scope > .msg')) {
        const r = m.getBoundingClientRect();
        if (r.bottom > top) return [m.dataset.id, Math.round(r.top - top)];
    }
    return null;
}"""

# How far below the log's top a message is.
OFFSET = """(log, id) => {
    const m = log.querySelector(`.msg[data-id="${id}"]`);
    return Math.round(m.getBoundingClientRect().top - log.getBoundingClientRect().top);
}"""


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, as in test_browser.py: the page is under test here."""
    return sqlite_url(tmp_path / "parley.db")


async def _fast(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
    """TOKENS words at PACE, a paragraph every ten: a reply many screens tall, rendered in
    blocks as it streams."""
    for i in range(TOKENS):
        await asyncio.sleep(PACE)
        yield f"word{i}" + ("\n\n" if i % 10 == 9 else " ")
    yield "The end."


def _fast_agent() -> Agent[None, str]:
    return Agent(FunctionModel(stream_function=_fast, model_name="fast"))


def _gated_fast_agent(gate: threading.Event) -> Agent[None, str]:
    """A line, then (once the test's thread opens `gate`) the fast reply."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield "Ready.\n\n"
        for _ in range(3_000):
            if gate.is_set():
                break
            await asyncio.sleep(0.01)
        async for piece in _fast(messages, info):
            yield piece

    return Agent(FunctionModel(stream_function=stream, model_name="fast"))


def _ask(page: Page, prompt: str) -> Locator:
    """Send `prompt` with Enter once the open conversation has loaded; the new reply, once it
    shows (generous timeouts: the suite runs browsers side by side on two cores)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("message-list")).not_to_have_attribute("aria-busy", "true")
    replies = page.locator('[data-role="assistant"]')
    before = replies.count()
    box = page.get_by_role("textbox", name="Message")
    box.fill(prompt)
    box.press("Enter")
    expect(replies).to_have_count(before + 1, timeout=20_000)
    reply = replies.nth(before)
    expect(reply).to_have_attribute("data-status", "generating", timeout=20_000)
    return reply


def _distance(log: Locator) -> float:
    value: float = log.evaluate(DISTANCE)
    return value


def _over(page: Page, log: Locator) -> None:
    """Put the mouse over the log, where a wheel scrolls it."""
    box = log.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_a_fast_reply_is_followed_to_its_end(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(_fast_agent(), database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        log = page.get_by_test_id("message-list")
        reply = _ask(page, "Write a lot, fast.")
        # Mid-reply, again and again: the end of the reply is never out of view for long (a
        # page that stopped following falls behind by screens within a second).
        for words in (500, 1_500, 2_500, 3_500):
            expect(reply).to_contain_text(f"word{words}", timeout=30_000)
            page.wait_for_function(
                f"(log) => ({DISTANCE})(log) < log.clientHeight / 2",
                arg=log.element_handle(),
                timeout=2_000,
            )
        expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
        expect(reply).to_contain_text("The end.")
        page.wait_for_function(f"(log) => ({DISTANCE})(log) < 2", arg=log.element_handle())
        assert log.evaluate("(log) => log.scrollHeight > 10 * log.clientHeight")
        expect(page.get_by_role("button", name=JUMP)).to_be_hidden()
        assert errors == []


def test_scrolling_up_mid_reply_stops_following_until_jump_to_latest(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    with serve(_fast_agent(), database_url, generate_titles=False) as base:
        cid, _ids = seed_conversation(database_url, 40)
        page, errors = open_page(browser, f"{base}/c/{cid}")
        log = page.get_by_test_id("message-list")
        jump = page.get_by_role("button", name=JUMP)
        prompt = page.get_by_role("textbox", name="Message")
        reply = _ask(page, "Write a lot, fast.")
        expect(reply).to_contain_text("word600", timeout=30_000)
        expect(jump).to_be_hidden(timeout=SETTLED)

        # A turn of the wheel up: the reader stays there while the reply grows below.
        _over(page, log)
        page.mouse.wheel(0, -600)
        expect(jump).to_be_visible()
        page.wait_for_timeout(300)  # the wheel's scroll settles
        top = log.evaluate("(log) => log.scrollTop")
        grown = log.evaluate("(log) => log.scrollHeight")
        page.wait_for_function(
            "([log, h]) => log.scrollHeight > h + 2 * log.clientHeight",
            arg=[log.element_handle(), grown],
        )
        assert reply.get_attribute("data-status") == "generating", "the reply ended too soon"
        assert abs(log.evaluate("(log) => log.scrollTop") - top) < 2
        assert _distance(log) > log.evaluate("(log) => log.clientHeight")
        expect(jump).to_be_visible()

        # "Jump to latest" goes back down and follows the reply again.
        jump.click()
        expect(jump).to_be_hidden(timeout=SETTLED)
        expect(prompt).to_be_focused()
        grown = log.evaluate("(log) => log.scrollHeight")
        page.wait_for_function(
            f"""([log, h]) => log.scrollHeight > h + 2 * log.clientHeight
                && ({DISTANCE})(log) < log.clientHeight / 2""",
            arg=[log.element_handle(), grown],
        )
        assert reply.get_attribute("data-status") == "generating", "the reply ended too soon"

        # Up above the reply, out of sight, until it ends: "Jump to latest" then goes to the
        # bottom of the whole reply (laid out only as it comes into view). The mouse is still
        # where the button shows again: a wheel turned over it scrolls the log all the same.
        for _ in range(100):
            if log.evaluate("(log) => log.scrollTop") == 0:
                break
            page.mouse.wheel(0, -5_000)
            page.wait_for_timeout(30)
        assert log.evaluate("(log) => log.scrollTop") == 0
        expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
        expect(reply).to_contain_text("The end.")
        assert log.evaluate("(log) => log.scrollTop") == 0
        jump.click()
        page.wait_for_function(f"(log) => ({DISTANCE})(log) < 2", arg=log.element_handle())
        expect(reply.get_by_text("The end.")).to_be_in_viewport()
        expect(jump).to_be_hidden(timeout=SETTLED)
        assert errors == []


def _first_on_screen(log: Locator, to: int | None = None) -> tuple[str, int]:
    found: list[str | int] = log.evaluate(FIRST_ON_SCREEN, to)
    return str(found[0]), int(found[1])


def _load_above_in_place(page: Page, log: Locator, messages: Locator, count: int) -> None:
    """Scroll to the top: the page above loads (`count` messages in all), and the message
    that was first on screen stays where it was."""
    from playwright.sync_api import expect

    shown = _first_on_screen(log, to=0)
    expect(messages).to_have_count(count)
    page.wait_for_timeout(100)
    assert log.evaluate("(log) => log.scrollTop") > 1_000
    message, offset = shown
    assert log.evaluate(OFFSET, message) == offset


def test_a_long_history_scrolled_to_its_first_message_and_back(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    with serve(_fast_agent(), database_url) as base:  # migrates the database
        cid, ids = seed_conversation(database_url, 2_000)
        page, errors = open_page(browser, f"{base}/c/{cid}")
        log = page.get_by_test_id("message-list")
        messages = page.locator("#log > .msg")
        first = page.locator(f'.msg[data-id="{ids[0]}"]')
        newest = page.locator(f'.msg[data-id="{ids[-1]}"]')
        jump = page.get_by_role("button", name=JUMP)
        expect(newest).to_be_in_viewport()
        expect(messages).to_have_count(100)
        expect(jump).to_be_hidden(timeout=SETTLED)
        opened = log.evaluate(ELEMENTS)
        # Off-screen messages are not laid out (what keeps a long log cheap while a reply
        # streams); the reader's place is kept all the same, below.
        assert messages.first.evaluate("(m) => getComputedStyle(m).contentVisibility") == "auto"

        # The page above loads without moving what is on screen.
        _load_above_in_place(page, log, messages, 200)
        expect(jump).to_be_visible()

        # Up to the first message by the wheel alone.
        _over(page, log)
        most = opened
        for _ in range(600):
            if first.count():
                break
            page.mouse.wheel(0, -4_000)
            page.wait_for_timeout(40)
            most = max(most, log.evaluate(ELEMENTS))
        expect(first).to_have_count(1)
        log.evaluate("(log) => { log.scrollTop = 0; }")
        expect(first).to_be_in_viewport()
        expect(page.get_by_role("button", name="Load earlier messages")).to_have_count(0)
        expect(newest).to_have_count(0)
        at_top = log.evaluate(ELEMENTS)
        print(f"elements in the log: {opened} opened, {at_top} at the top, {most} at most")
        assert most <= 3 * opened, (opened, most)
        assert messages.count() <= 250

        # And back down to the newest, by the wheel alone.
        for _ in range(1_000):
            if newest.count() and _distance(log) < 2:
                break
            page.mouse.wheel(0, 4_000)
            page.wait_for_timeout(40)
            most = max(most, log.evaluate(ELEMENTS))
        expect(newest).to_be_in_viewport()
        expect(first).to_have_count(0)
        expect(page.get_by_role("button", name="Load newer messages")).to_have_count(0)
        assert most <= 3 * opened, (opened, most)
        expect(jump).to_be_hidden(timeout=SETTLED)
        assert errors == []


def test_a_deep_search_hit_opens_around_it_and_jump_to_latest_returns(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    def text(i: int) -> str:
        return "Where did the wombat go?" if i == 1_000 else default_text(i)

    with serve(_fast_agent(), database_url) as base:
        cid, ids = seed_conversation(database_url, 2_000, title="The long one", text=text)
        page, errors = open_page(browser, base)
        page.get_by_role("searchbox", name="Search conversations").fill("wombat")
        hit = page.get_by_test_id("search-results").get_by_role("button", name=re.compile("wombat"))
        expect(hit).to_have_count(1)
        hit.click()

        found = page.locator(f'.msg[data-id="{ids[1_000]}"]')
        expect(found).to_be_focused()
        expect(found).to_have_class(re.compile(r"\bmsg--found\b"))
        expect(found).to_be_in_viewport()
        expect(page).to_have_url(f"{base}/c/{cid}")
        messages = page.locator("#log > .msg")
        expect(messages).to_have_count(50)
        assert messages.first.get_attribute("data-id") == ids[975]
        expect(page.get_by_role("button", name="Load earlier messages")).to_have_count(1)
        expect(page.get_by_role("button", name="Load newer messages")).to_have_count(1)
        jump = page.get_by_role("button", name=JUMP)
        expect(jump).to_be_visible()  # the newest message is not in the log

        # Scrolling up loads the page before it (100 older messages) in place.
        log = page.get_by_test_id("message-list")
        _load_above_in_place(page, log, messages, 150)
        expect(page.locator(f'.msg[data-id="{ids[875]}"]')).to_have_count(1)
        expect(found).to_have_count(1)

        jump.click()
        newest = page.locator(f'.msg[data-id="{ids[-1]}"]')
        expect(newest).to_be_in_viewport()
        expect(found).to_have_count(0)
        expect(messages).to_have_count(100)
        expect(jump).to_be_hidden(timeout=SETTLED)
        expect(page.get_by_role("textbox", name="Message")).to_be_focused()
        assert errors == []


def test_a_sideways_wheel_or_one_at_the_top_keeps_following(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    gate = threading.Event()
    try:
        with serve(_gated_fast_agent(gate), database_url, generate_titles=False) as base:
            page, errors = open_page(browser, base)
            log = page.get_by_test_id("message-list")
            jump = page.get_by_role("button", name=JUMP)
            reply = _ask(page, "Write a lot, fast.")
            expect(reply).to_contain_text("Ready.")

            # A wheel turned up where the log cannot go up (it does not scroll yet).
            assert log.evaluate("(log) => log.scrollTop") == 0
            log.dispatch_event("wheel", {"deltaY": -120})
            gate.set()
            expect(reply).to_contain_text("word600", timeout=30_000)
            assert log.evaluate("(log) => log.scrollTop") > 0
            page.wait_for_function(
                f"(log) => ({DISTANCE})(log) < log.clientHeight / 2",
                arg=log.element_handle(),
                timeout=2_000,
            )
            expect(jump).to_be_hidden(timeout=SETTLED)

            # A trackpad swiped sideways (along a wide code block) goes a little up as well.
            _over(page, log)
            page.mouse.wheel(400, -6)
            page.wait_for_timeout(300)
            expect(reply).to_have_attribute("data-status", "generating")
            grown = log.evaluate("(log) => log.scrollHeight")
            page.wait_for_function(
                f"""([log, h]) => log.scrollHeight > h + 2 * log.clientHeight
                    && ({DISTANCE})(log) < log.clientHeight / 2""",
                arg=[log.element_handle(), grown],
            )
            expect(jump).to_be_hidden(timeout=SETTLED)
            expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
            page.wait_for_function(f"(log) => ({DISTANCE})(log) < 2", arg=log.element_handle())
            assert errors == []
    finally:
        gate.set()


def _scroll_to_top(log: Locator) -> None:
    log.evaluate("(log) => { log.scrollTop = 0; }")


def _scroll_to_bottom(log: Locator) -> None:
    log.evaluate("(log) => { log.scrollTop = log.scrollHeight; }")


def test_paging_never_takes_away_a_draft_or_the_focus(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url) as base:
        cid, ids = seed_conversation(database_url, 2_000)
        page, errors = open_page(browser, f"{base}/c/{cid}")
        log = page.get_by_test_id("message-list")

        def message(i: int) -> Locator:
            return page.locator(f'.msg[data-id="{ids[i]}"]')

        expect(page.locator("#log > .msg")).to_have_count(100)
        newer = page.get_by_role("button", name="Load newer messages")

        # A draft in the editor of the newest prompt; the focus then goes elsewhere.
        message(-2).get_by_role("button", name="Edit").click()
        editor = message(-2).get_by_role("textbox", name="Edit message")
        draft = "A second thought, half written"
        editor.fill(draft)
        log.focus()

        # Up two pages: 300 messages, more than the log holds. The newest end gives way, but
        # only below the draft.
        _scroll_to_top(log)
        expect(message(1_800)).to_have_count(1)
        _scroll_to_top(log)
        expect(message(1_700)).to_have_count(1)
        expect(message(-1)).to_have_count(0)
        expect(newer).to_have_count(1)
        expect(editor).to_have_value(draft)

        # And back down: the draft is still there, and the oldest end gave way.
        _scroll_to_bottom(log)
        expect(message(-1)).to_have_count(1)
        expect(newer).to_have_count(0)
        expect(message(1_700)).to_have_count(0)
        expect(editor).to_have_value(draft)

        # Cancelled: the focus is on its Edit button, which stays with its message.
        editor.press("Escape")
        edit = message(-2).get_by_role("button", name="Edit")
        expect(edit).to_be_focused()
        _scroll_to_top(log)
        expect(message(1_650)).to_have_count(1)
        expect(message(-1)).to_have_count(0)
        expect(edit).to_be_focused()

        # "Load newer messages" keeps the focus while the messages above it go.
        newer.evaluate("(b) => b.focus({ preventScroll: true })")
        _scroll_to_top(log)
        expect(message(1_550)).to_have_count(1)
        expect(message(-2)).to_have_count(0)
        expect(page.locator("#log > .msg")).to_have_count(250)
        expect(newer).to_be_focused()
        assert errors == []


def test_a_window_grown_while_a_reply_streams_shrinks_once_it_ends(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    with serve(_fast_agent(), database_url, generate_titles=False) as base:
        cid, ids = seed_conversation(database_url, 2_000)
        page, errors = open_page(browser, f"{base}/c/{cid}")
        log = page.get_by_test_id("message-list")
        messages = page.locator("#log > .msg")
        expect(messages).to_have_count(100)
        reply_id = _ask(page, "Write a lot, fast.").get_attribute("data-id")
        reply = page.locator(f'.msg[data-id="{reply_id}"]')

        # Three pages up while it streams: the newest end, where it streams, stays.
        for i in (1_800, 1_700, 1_600):
            _scroll_to_top(log)
            expect(page.locator(f'.msg[data-id="{ids[i]}"]')).to_have_count(1)
        assert reply.get_attribute("data-status") == "generating", "the reply ended too soon"
        assert messages.count() == 402

        # Once it ends, the newest end (far below the reader) gives way after all.
        expect(messages).to_have_count(250, timeout=30_000)
        expect(reply).to_have_count(0)
        expect(page.get_by_role("button", name="Load newer messages")).to_have_count(1)
        expect(page.get_by_role("button", name=JUMP)).to_be_visible()
        assert errors == []


def test_an_edit_at_a_search_hit_makes_the_window_the_newest(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    def text(i: int) -> str:
        return "Where did the wombat go?" if i == 100 else default_text(i)

    with serve(Echo().agent(), database_url) as base:
        seed_conversation(database_url, 300, text=text)
        page, errors = open_page(browser, base)
        # The pages below the hit never come: the window stays short of the newest message.
        page.route(re.compile(r"/messages\?.*after="), lambda _route: None)
        page.get_by_role("searchbox", name="Search conversations").fill("wombat")
        page.get_by_test_id("search-results").get_by_role(
            "button", name=re.compile("wombat")
        ).click()
        jump = page.get_by_role("button", name=JUMP)
        log = page.get_by_test_id("message-list")
        expect(log.locator(".msg--found")).to_be_focused()
        expect(jump).to_be_visible()
        _scroll_to_bottom(log)
        page.wait_for_function(f"(log) => ({DISTANCE})(log) < 2", arg=log.element_handle())
        expect(jump).to_be_visible()  # at the bottom, but of a window short of the newest

        # An edit of the last prompt shown: the branch now ends with its reply, here.
        last = log.locator('.msg[data-role="user"]').last
        last.get_by_role("button", name="Edit").click()
        last.get_by_role("textbox", name="Edit message").fill("Edited at the hit")
        last.get_by_role("textbox", name="Edit message").press("Enter")
        reply = log.locator('[data-role="assistant"]').last
        expect(reply).to_contain_text("Edited at the hit")
        expect(reply).to_have_attribute("data-status", "complete")
        expect(page.get_by_role("button", name="Load newer messages")).to_have_count(0)
        expect(jump).to_be_hidden(timeout=SETTLED)
        assert errors == []


def test_jump_to_latest_opens_no_keyboard_on_a_tap(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url) as base:
        cid, ids = seed_conversation(database_url, 300)
        context = browser.new_context(
            viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True
        )
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/c/{cid}")
            log = page.get_by_test_id("message-list")
            prompt = page.get_by_role("textbox", name="Message")
            jump = page.get_by_role("button", name=JUMP)
            newest = page.locator(f'.msg[data-id="{ids[-1]}"]')
            expect(newest).to_be_in_viewport()

            # A tap: the focus stays in the conversation, and no keyboard pops up.
            _scroll_to_top(log)
            expect(jump).to_be_visible()
            jump.tap()
            expect(jump).to_be_hidden(timeout=SETTLED)
            expect(newest).to_be_in_viewport(timeout=SETTLED)
            expect(prompt).not_to_be_focused()
            expect(log).to_be_focused()

            # A press that does not focus the button (Safari's clicks): the focus stays put.
            _scroll_to_top(log)
            expect(jump).to_be_visible()
            toggle = page.get_by_role("button", name="Conversations")
            toggle.focus()
            jump.dispatch_event("click")
            expect(jump).to_be_hidden(timeout=SETTLED)
            expect(newest).to_be_in_viewport(timeout=SETTLED)
            expect(toggle).to_be_focused()

            # The keyboard's press: on to the message box, ready to type.
            _scroll_to_top(log)
            expect(jump).to_be_visible()
            jump.focus()
            page.keyboard.press("Enter")
            expect(jump).to_be_hidden(timeout=SETTLED)
            expect(prompt).to_be_focused()
            assert errors == []
        finally:
            context.close()
