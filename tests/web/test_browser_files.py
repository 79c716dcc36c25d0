"""Attaching files in a real Chromium: by the "Attach files" button and by paste, the chips and
the thumbnail on the sent message (loaded under the page's CSP), and what the model got."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..support.browser import open_page, serve
from ..support.databases import sqlite_url
from ..support.files import Recorder, binaries, pdf, png, prompt_items

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

_PASTE = """async ([data, name, type]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  const init = { clipboardData: transfer, bubbles: true, cancelable: true };
  document.getElementById('prompt').dispatchEvent(new ClipboardEvent('paste', init));
}"""


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the page is under test; tests/chat/test_files.py covers both databases."""
    return sqlite_url(tmp_path / "parley.db")


def test_attach_by_button_and_by_paste(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import FilePayload, expect

    recorder = Recorder()
    image, document = png(16, 12), pdf("Minutes of the meeting")
    # A model that takes images but no documents: the PDF goes as its text, and says so.
    agent = recorder.agent(supports_document_input=False)
    with serve(agent, database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="Attach files").click()
        chooser.value.set_files([FilePayload(name="cat.png", mimeType="image/png", buffer=image)])
        encoded = base64.b64encode(document).decode()
        page.evaluate(_PASTE, [encoded, "minutes.pdf", "application/pdf"])
        composer_files = page.get_by_test_id("attachment")
        expect(composer_files).to_have_count(2)
        expect(composer_files.nth(0)).to_contain_text("PNG image")
        expect(composer_files.nth(1)).to_contain_text("PDF")

        page.get_by_role("textbox", name="Message").fill("What is in these?")
        page.keyboard.press("Enter")
        expect(page.locator('[data-role="assistant"][data-status="complete"]')).to_have_count(1)
        expect(composer_files).to_have_count(0)

        user = page.locator('[data-role="user"]')
        chips = user.get_by_test_id("file-chip")
        expect(chips).to_have_count(2)
        expect(chips.nth(0)).to_contain_text("cat.png")
        expect(chips.nth(0)).to_contain_text("PNG image")
        expect(chips.nth(1)).to_contain_text("minutes.pdf")
        expect(chips.nth(1)).to_contain_text("PDF")
        expect(chips.nth(1)).to_contain_text("sent as text")
        thumb = user.get_by_test_id("file-thumb")
        expect(thumb).to_have_count(1)
        page.wait_for_function(
            "() => document.querySelector('[data-testid=file-thumb]')?.naturalWidth === 16"
        )

        assert [b.data for b in binaries(recorder.calls[-1])] == [image]
        assert "Minutes of the meeting" in prompt_items(recorder.calls[-1])[2]

        # Reloaded, the saved message shows the same.
        page.reload()
        expect(page.locator('[data-role="user"]').get_by_test_id("file-chip")).to_have_count(2)
        page.wait_for_function(
            "() => document.querySelector('[data-testid=file-thumb]')?.naturalWidth === 16"
        )
        assert errors == []


def test_a_refused_file_is_shown_and_not_sent(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import FilePayload, expect

    recorder = Recorder()
    with serve(recorder.agent(), database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        exe = b"MZ\x90\x00" + bytes(64)  # a program, named and typed as an image
        page.get_by_test_id("file-input").set_input_files(
            [FilePayload(name="setup.png", mimeType="image/png", buffer=exe)]
        )
        refused = page.get_by_test_id("attachment")
        expect(refused).to_contain_text("can be attached")
        page.get_by_role("textbox", name="Message").fill("Look")
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
        assert recorder.calls == []
        page.get_by_role("button", name="Remove setup.png").click()
        expect(refused).to_have_count(0)
        page.get_by_role("button", name="Send").click()
        expect(page.locator('[data-role="assistant"][data-status="complete"]')).to_have_count(1)
        assert len(recorder.calls) == 1
        assert errors == []
