"""Issue 10 in a real Chromium: search (the Ctrl+K dialog by keyboard alone, the sidebar box,
a deep hit in a 2,000-message conversation), edit / regenerate / versions (and a reload keeps
the branch), fork, titles written after the first reply, pin, archive and delete in a dialog."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..support.browser import open_page, serve
from ..support.client import new_conversation, send
from ..support.databases import sqlite_url
from ..support.models import prompts_of, words_agent
from ..support.seed import default_text, seed_conversation

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

MODEL_TITLE = "Model written title"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, as in test_browser.py: the page is what is under test here; the API tests
    (tests/chat/test_branches.py, tests/chat/test_search.py) cover both databases."""
    return sqlite_url(tmp_path / "parley.db")


@dataclass
class Numbered:
    """Streams "Answer N to <prompt>." (N counts the replies, so every version differs) and
    records the history of each reply; titles a conversation MODEL_TITLE (the title request
    is a plain, not streamed, model request)."""

    calls: list[list[ModelMessage]] = field(default_factory=list)

    async def stream(self, messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        self.calls.append(list(messages))
        text = f"Answer {len(self.calls)} to {prompts_of(messages)[-1]}."
        for i in range(0, len(text), 6):
            yield text[i : i + 6]

    def title(self, _messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart(MODEL_TITLE)])

    def agent(self) -> Agent[None, str]:
        model = FunctionModel(self.title, stream_function=self.stream, model_name="numbered")
        return Agent(model)

    def prompts(self) -> list[str]:
        """The prompts the last reply was given: the branch the model saw."""
        return prompts_of(self.calls[-1])


def _ask(page: Page, prompt: str) -> Locator:
    """Send `prompt` with Enter; wait for its reply (Numbered's, which names the prompt) to
    complete, and return it."""
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name="Message")
    box.fill(prompt)
    box.press("Enter")
    reply = page.locator('[data-role="assistant"]').last
    expect(reply).to_contain_text(f" to {prompt}.")
    expect(reply).to_have_attribute("data-status", "complete")
    return reply


def _titled(client: httpx.Client, title: str, prompt: str | None = None) -> str:
    """A conversation titled by the user (so no generated title replaces it), with a turn."""
    cid = new_conversation(client)
    assert client.patch(f"/api/conversations/{cid}", json={"title": title}).status_code == 200
    if prompt is not None:
        send(client, cid, prompt)
    return cid


def _sidebar_titles(page: Page) -> list[str]:
    return page.locator("#conversation-list .conv__open").all_inner_texts()


def test_search_dialog_with_the_keyboard_only(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Numbered().agent(), database_url) as base:
        with httpx.Client(base_url=base, trust_env=False) as client:
            other = _titled(client, "Groceries", "apples and pears")
            wanted = _titled(client, "Animals", "tell me about the quokka")
        page, errors = open_page(browser, base)
        expect(page.locator("#conversation-list .conv")).to_have_count(2)
        prompt = page.get_by_role("textbox", name="Message")
        expect(prompt).to_be_focused()

        page.keyboard.press("Control+k")
        dialog = page.get_by_role("dialog", name="Search")
        expect(dialog).to_be_visible()
        box = dialog.get_by_role("combobox", name="Search all conversations")
        expect(box).to_be_focused()
        page.keyboard.type("quok")  # the last word matches as a prefix, as it is typed
        options = dialog.get_by_role("option")
        # The conversation (its title), then its hits (the prompt, and the reply that repeats
        # it), highlighted by the server; nothing of the other conversation.
        expect(options).to_have_count(3)
        expect(options.first).to_have_text("Animals")
        expect(options.nth(1).locator("mark")).to_have_text("quokka")
        expect(options.nth(2).locator("mark")).to_have_text("quokka")
        expect(box).to_have_attribute("aria-expanded", "true")

        page.keyboard.press("ArrowDown")
        expect(options.first).to_have_attribute("aria-selected", "true")
        first_id = options.first.get_attribute("id")
        assert first_id
        expect(box).to_have_attribute("aria-activedescendant", first_id)
        page.keyboard.press("ArrowDown")
        expect(options.nth(1)).to_have_attribute("aria-selected", "true")
        page.keyboard.press("ArrowUp")
        expect(options.first).to_have_attribute("aria-selected", "true")
        page.keyboard.press("Enter")
        expect(dialog).to_be_hidden()
        expect(page).to_have_url(f"{base}/c/{wanted}")
        expect(page.locator("#conversation-title")).to_have_text("Animals")
        expect(page.locator('[data-role="user"]')).to_contain_text("tell me about the quokka")

        # The hit itself: the conversation opens at the message, which has the focus.
        page.keyboard.press("Control+k")
        expect(box).to_be_focused()
        expect(options).to_have_count(3)  # the last query again
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        hit = page.locator(".msg--found")
        expect(hit).to_be_focused()
        expect(hit).to_contain_text("quokka")

        # A query the server refuses says why; Esc closes and gives the focus back.
        prompt.focus()
        page.keyboard.press("Meta+k")
        expect(box).to_be_focused()
        page.keyboard.press("Control+a")
        page.keyboard.type(" ".join(["word"] * 40))
        expect(dialog.get_by_role("alert")).to_contain_text("32")
        expect(options).to_have_count(0)
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(prompt).to_be_focused()
        # The search button opens the same dialog.
        page.get_by_role("button", name="Search", exact=True).click()
        expect(box).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.get_by_role("button", name="Search", exact=True)).to_be_focused()
        assert other != wanted and errors == []


def test_a_deep_hit_in_a_long_conversation_opens_around_it(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    numbered = Numbered()

    def text(i: int) -> str:
        return "Where did the wombat go?" if i == 2 else default_text(i)

    with serve(numbered.agent(), database_url) as base:  # migrates the database
        cid, ids = seed_conversation(database_url, 2_000, title="The long one", text=text)
        page, errors = open_page(browser, base)
        search = page.get_by_role("searchbox", name="Search conversations")
        search.fill("wombat")
        results = page.get_by_test_id("search-results")
        hit = results.get_by_role("button", name=re.compile("wombat"))
        expect(hit).to_have_count(1)
        expect(page.get_by_test_id("conversation-list")).to_be_hidden()
        hit.click()

        third = page.locator(f'.msg[data-id="{ids[2]}"]')
        expect(third).to_be_focused()
        expect(third).to_have_class(re.compile(r"\bmsg--found\b"))
        expect(third).to_be_in_viewport()
        expect(page).to_have_url(f"{base}/c/{cid}")
        # A page around it, not the conversation: the first 50 messages.
        messages = page.locator("#log .msg")
        expect(messages).to_have_count(50)
        expect(page.get_by_role("button", name="Load earlier messages")).to_have_count(0)
        newer = page.get_by_role("button", name="Load newer messages")
        expect(newer).to_be_visible()

        # Scrolling to the bottom loads the next page below.
        page.locator("#log").evaluate("log => { log.scrollTop = log.scrollHeight; }")
        expect(messages).to_have_count(100)
        expect(page.locator(f'.msg[data-id="{ids[99]}"]')).to_have_count(1)

        # A prompt continues the branch at its newest message: that page is shown first.
        _ask(page, "and now?")
        expect(page.locator(f'.msg[data-id="{ids[-1]}"]')).to_have_count(1)
        expect(page.locator(f'.msg[data-id="{ids[2]}"]')).to_have_count(0)
        expect(newer).to_have_count(0)
        assert numbered.prompts()[-1] == "and now?"

        # Clearing the search box shows the list again.
        search.fill("")
        expect(page.get_by_test_id("conversation-list")).to_be_visible()
        assert errors == []


def test_edit_regenerate_and_versions_and_a_reload_keeps_the_branch(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    numbered = Numbered()
    with serve(numbered.agent(), database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        _ask(page, "first")
        _ask(page, "second")
        users = page.locator('[data-role="user"]')
        replies = page.locator('[data-role="assistant"]')

        # Edit the first prompt: everything after it gives way to the new branch.
        first = users.first
        first.get_by_role("button", name="Edit").click()
        editor = first.get_by_role("textbox", name="Edit message")
        expect(editor).to_be_focused()
        expect(editor).to_have_value("first")
        first.get_by_role("button", name="Cancel").click()
        expect(editor).to_have_count(0)
        expect(first.get_by_role("button", name="Edit")).to_be_focused()
        first.get_by_role("button", name="Edit").click()
        editor.fill("first, edited")
        first.get_by_role("button", name="Send", exact=True).click()
        expect(replies.first).to_contain_text("Answer 3 to first, edited.")
        expect(replies.first).to_have_attribute("data-status", "complete")
        expect(users).to_have_count(1)
        expect(replies).to_have_count(1)
        expect(users.first).to_contain_text("first, edited")
        expect(users.first.locator(".versions")).to_have_text("2 / 2")
        assert numbered.prompts() == ["first, edited"]

        # Regenerate the reply: a new version in its place, the prompt not sent again.
        replies.first.get_by_role("button", name="Regenerate").click()
        expect(replies.first).to_contain_text("Answer 4 to first, edited.")
        expect(replies.first).to_have_attribute("data-status", "complete")
        expect(replies).to_have_count(1)
        expect(users).to_have_count(1)
        versions = replies.first.locator(".versions")
        expect(versions).to_have_text("2 / 2")
        expect(replies.first.get_by_role("button", name="Next version")).to_be_disabled()
        assert numbered.prompts() == ["first, edited"]

        # Back to the first version of the reply; a reload shows the same branch.
        replies.first.get_by_role("button", name="Previous version").click()
        expect(versions).to_have_text("1 / 2")
        expect(replies.first).to_contain_text("Answer 3 to first, edited.")
        expect(replies.first.get_by_role("button", name="Next version")).to_be_focused()
        page.reload()
        expect(replies.first.locator(".versions")).to_have_text("1 / 2")
        expect(replies.first).to_contain_text("Answer 3 to first, edited.")

        # The first version of the prompt brings its whole branch back.
        users.first.get_by_role("button", name="Previous version").click()
        expect(users.first.locator(".versions")).to_have_text("1 / 2")
        expect(users).to_have_count(2)
        expect(users.nth(0)).to_contain_text("first")
        expect(users.nth(1)).to_contain_text("second")
        expect(replies.nth(1)).to_contain_text("Answer 2 to second.")
        page.reload()
        expect(users).to_have_count(2)
        expect(users.first.locator(".versions")).to_have_text("1 / 2")
        expect(replies.nth(1)).to_contain_text("Answer 2 to second.")

        # The model gets exactly the branch on screen.
        _ask(page, "third")
        assert numbered.prompts() == ["first", "second", "third"]
        assert errors == []


def test_message_actions_wait_while_a_reply_is_generated(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    with serve(words_agent(200, 0.05, word="w"), database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        box = page.get_by_role("textbox", name="Message")
        box.fill("go")
        box.press("Enter")
        reply = page.locator('[data-role="assistant"]').last
        expect(reply).to_contain_text("w3 ")
        user = page.locator('[data-role="user"]').last
        for button in (
            user.get_by_role("button", name="Edit"),
            user.get_by_role("button", name="Fork from here"),
            reply.get_by_role("button", name="Regenerate"),
            reply.get_by_role("button", name="Fork from here"),
        ):
            expect(button).to_be_disabled()
        page.get_by_role("button", name="Stop").click()
        expect(reply).to_have_attribute("data-status", "stopped")
        expect(user.get_by_role("button", name="Edit")).to_be_enabled()
        expect(reply.get_by_role("button", name="Regenerate")).to_be_enabled()
        assert errors == []


def test_fork_from_here_opens_a_copy_of_the_branch(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Numbered().agent(), database_url, generate_titles=False) as base:
        with httpx.Client(base_url=base, trust_env=False) as client:
            cid = _titled(client, "Original", "one")
            send(client, cid, "two")
        page, errors = open_page(browser, f"{base}/c/{cid}")
        expect(page.locator('[data-role="assistant"]')).to_have_count(2)
        first_reply = page.locator('[data-role="assistant"]').first
        first_reply.get_by_role("button", name="Fork from here").click()

        expect(page).not_to_have_url(f"{base}/c/{cid}")
        expect(page).to_have_url(re.compile(r"/c/[\w-]+$"))
        expect(page.locator("#conversation-title")).to_have_text("Original (fork)")
        expect(page.locator('[data-role="user"]')).to_have_count(1)
        expect(page.locator('[data-role="assistant"]')).to_have_count(1)
        expect(page.locator('[data-role="assistant"]')).to_contain_text("Answer 1 to one.")
        current = page.locator("#conversation-list .conv__open[aria-current]")
        expect(current).to_have_text("Original (fork)")
        assert "Original" in _sidebar_titles(page)
        # The copy is a conversation of its own: it goes on without the original.
        _ask(page, "three")
        page.goto(f"{base}/c/{cid}")
        expect(page.locator('[data-role="user"]')).to_have_count(2)
        assert errors == []


def test_the_title_follows_the_first_reply_without_a_reload(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    with serve(Numbered().agent(), database_url) as base:
        page, errors = open_page(browser, base)
        _ask(page, "what shall we call this")
        heading = page.locator("#conversation-title")
        expect(heading).to_have_text(MODEL_TITLE, timeout=15_000)
        current = page.locator("#conversation-list .conv__open[aria-current]")
        expect(current).to_have_text(MODEL_TITLE)
        assert errors == []


def test_pin_archive_and_delete_from_the_sidebar(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Numbered().agent(), database_url) as base:
        with httpx.Client(base_url=base, trust_env=False) as client:
            ids = {title: _titled(client, title) for title in ("Alpha", "Bravo", "Charlie")}
        page, errors = open_page(browser, base)
        items = page.locator("#conversation-list .conv")
        expect(items).to_have_count(3)
        last = _sidebar_titles(page)[-1]

        # Pin: the conversation goes on top, with a mark, and stays there after a reload.
        page.get_by_role("button", name=f"Pin {last}", exact=True).click()
        expect(items.first.locator(".conv__open")).to_have_text(last)
        expect(items.first.get_by_role("img", name="Pinned")).to_be_visible()
        expect(page.get_by_role("button", name=f"Unpin {last}", exact=True)).to_be_focused()
        page.reload()
        expect(items.first.locator(".conv__open")).to_have_text(last)
        expect(page.get_by_role("img", name="Pinned")).to_have_count(1)

        # Archive hides it; "Show archived" lists it, and Unarchive restores it.
        page.get_by_role("button", name="Archive Bravo", exact=True).click()
        expect(items).to_have_count(2)
        assert "Bravo" not in _sidebar_titles(page)
        page.get_by_role("button", name="Show archived").click()
        expect(page.get_by_role("heading", name="Archived")).to_be_visible()
        expect(items).to_have_count(1)
        expect(items.first.locator(".conv__open")).to_have_text("Bravo")
        page.get_by_role("button", name="Unarchive Bravo", exact=True).click()
        expect(items).to_have_count(0)
        page.get_by_role("button", name="Show conversations").click()
        expect(items).to_have_count(3)
        assert sorted(_sidebar_titles(page)) == ["Alpha", "Bravo", "Charlie"]

        # Delete asks in a dialog; Cancel (and Esc) keep the conversation.
        delete = page.get_by_role("button", name="Delete Alpha", exact=True)
        delete.click()
        dialog = page.get_by_role("dialog", name="Delete conversation?")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Alpha")
        expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        expect(delete).to_be_focused()
        expect(items).to_have_count(3)
        page.keyboard.press("Enter")  # the focused Delete button, by keyboard
        expect(dialog).to_be_visible()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(items).to_have_count(3)
        delete.click()
        dialog.get_by_role("button", name="Delete", exact=True).click()
        expect(items).to_have_count(2)
        assert "Alpha" not in _sidebar_titles(page)
        with httpx.Client(base_url=base, trust_env=False) as client:
            assert client.get(f"/api/conversations/{ids['Alpha']}").status_code == 404
            assert client.get(f"/api/conversations/{ids['Bravo']}").json()["archived"] is False
        assert errors == []
