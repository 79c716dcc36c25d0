"""Per-conversation model and instructions in a real Chromium: the "Conversation settings"
dialog by keyboard alone, a refused save shown in it, each reply naming its model and usage,
and the conversation's totals in the header."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..support.browser import open_page, serve
from ..support.client import new_conversation, send
from ..support.databases import sqlite_url

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

INSTRUCTIONS = "Answer like a pirate."


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, as in test_browser.py: the page is under test here; the API tests
    (tests/runs/test_models.py) cover choosing models on both databases."""
    return sqlite_url(tmp_path / "parley.db")


@dataclass
class Named:
    """A model that answers "<name> answers", recording the instructions of each reply."""

    name: str
    instructions: list[str | None] = field(default_factory=list)

    async def stream(self, _messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        self.instructions.append(info.instructions)
        yield f"{self.name} answers"

    def model(self) -> FunctionModel:
        return FunctionModel(stream_function=self.stream, model_name=self.name)


@contextmanager
def _serve(models: list[Named], database_url: str) -> Iterator[str]:
    """Parley offering `models` (the first is the default); yields its base URL."""
    choices: list[tuple[str, Model]] = [(m.name, m.model()) for m in models]
    with serve(Agent(choices[0][1]), database_url, choices, generate_titles=False) as url:
        yield url


def test_model_and_instructions_per_conversation(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    first, second = Named("first"), Named("second")
    with _serve([first, second], database_url) as base:
        with httpx.Client(base_url=base, trust_env=False) as client:
            cid = new_conversation(client)
            send(client, cid, "hello")  # answered by the default model
            has_totals = client.get(f"/api/conversations/{cid}/usage").status_code != 404
        page, errors = open_page(browser, base)
        settings = page.get_by_role("button", name="Conversation settings", exact=True)
        # Nothing to set before a conversation is open.
        expect(settings).to_be_disabled()
        model_badge = page.get_by_test_id("model-name")
        expect(model_badge).to_have_text("first")

        page.goto(f"{base}/c/{cid}")
        replies = page.locator('[data-role="assistant"]')
        expect(replies).to_have_count(1)
        expect(replies.first.get_by_test_id("reply-model")).to_have_text("Model: first")
        expect(settings).to_be_enabled()
        expect(model_badge).to_have_text("first")

        # By keyboard alone: open, pick "second", type the instructions, Save.
        settings.focus()
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Conversation settings")
        expect(dialog).to_be_visible()
        model = dialog.get_by_role("combobox", name="Model")
        expect(model).to_be_focused()
        expect(model).to_have_value("first")
        options = model.locator("option")
        expect(options).to_have_text(["first (default) · price —", "second · price —"])
        page.keyboard.press("ArrowDown")
        expect(model).to_have_value("second")
        expect(dialog).to_contain_text("Price per million tokens: — in, — out.")
        page.keyboard.press("Tab")
        instructions = dialog.get_by_role("textbox", name="Instructions")
        expect(instructions).to_be_focused()
        page.keyboard.type(INSTRUCTIONS)
        page.keyboard.press("Tab")
        expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        page.keyboard.press("Tab")
        expect(dialog.get_by_role("button", name="Save")).to_be_focused()
        page.keyboard.press("Enter")
        expect(dialog).to_be_hidden()
        expect(settings).to_be_focused()
        # The header follows without a reload.
        expect(model_badge).to_have_text("second")
        with httpx.Client(base_url=base, trust_env=False) as client:
            saved = client.get(f"/api/conversations/{cid}").json()
        assert (saved["model"], saved["instructions"]) == ("second", INSTRUCTIONS)

        # The next reply is the chosen model's, and says so; the earlier one keeps its model.
        box = page.get_by_role("textbox", name="Message")
        box.fill("who are you?")
        box.press("Enter")
        expect(replies).to_have_count(2)
        reply = replies.last
        expect(reply).to_have_attribute("data-status", "complete")
        expect(reply).to_contain_text("second answers")
        expect(reply.get_by_test_id("reply-model")).to_have_text("Model: second")
        expect(replies.first.get_by_test_id("reply-model")).to_have_text("Model: first")
        # Token counts, and no price for a FunctionModel: "cost —", never $0.
        usage = reply.get_by_test_id("reply-usage")
        expect(usage).to_have_text(re.compile(r"^\d[\d,]* in · \d[\d,]* out · cost —$"))
        assert INSTRUCTIONS in (second.instructions[-1] or "")
        assert len(first.instructions) == 1

        totals = page.get_by_test_id("conversation-usage")
        if has_totals:
            expect(totals).to_have_text(
                re.compile(r"^2 replies · [\d,]+ in · [\d,]+ out · cost —$")
            )
        else:
            expect(totals).to_be_hidden()  # a server without totals: none shown, nothing broken

        # A reload shows the choice, here and in the dialog; Esc closes without saving.
        page.reload()
        expect(replies).to_have_count(2)
        expect(model_badge).to_have_text("second")
        expect(replies.last.get_by_test_id("reply-model")).to_have_text("Model: second")
        settings.click()
        expect(model).to_be_focused()
        expect(model).to_have_value("second")
        expect(instructions).to_have_value(INSTRUCTIONS)
        model.select_option("first")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(settings).to_be_focused()
        expect(model_badge).to_have_text("second")

        # Too long: the server's 422 is shown in the dialog, which keeps what was typed.
        settings.click()
        expect(instructions).to_have_value(INSTRUCTIONS)
        too_long = "x" * 20_001
        instructions.fill(too_long)
        dialog.get_by_role("button", name="Save").click()
        alert = dialog.get_by_role("alert")
        expect(alert).to_contain_text("20000")
        expect(dialog).to_be_visible()
        expect(instructions).to_have_value(too_long)
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        expect(settings).to_be_focused()
        with httpx.Client(base_url=base, trust_env=False) as client:
            kept = client.get(f"/api/conversations/{cid}").json()
        assert (kept["model"], kept["instructions"]) == ("second", INSTRUCTIONS)

        # The default again: saved as null, and the error of the last attempt is gone.
        settings.click()
        expect(alert).to_be_hidden()
        model.select_option("first")
        instructions.fill("")
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        expect(model_badge).to_have_text("first")
        with httpx.Client(base_url=base, trust_env=False) as client:
            reset = client.get(f"/api/conversations/{cid}").json()
        assert (reset["model"], reset["instructions"]) == (None, None)

        # New chat: no conversation, so no settings.
        page.get_by_role("button", name="New chat").click()
        expect(settings).to_be_disabled()
        assert errors == []
