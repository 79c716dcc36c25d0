"""Sharing, export and import in a real Chromium: the Share dialog (create, copy, update,
revoke, a refusal shown in it, keyboard alone), the Shared links dialog, importing files
through the sidebar's file chooser, the export downloads, and axe over every new state."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ..support.axe import Audit, axe_source
from ..support.browser import open_page, serve
from ..support.client import new_conversation, send
from ..support.databases import sqlite_url
from ..support.models import Echo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

EMPTY = "nothing copied yet"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the page is under test here; tests/chat/test_archive.py and the share
    tests cover the API on both databases."""
    return sqlite_url(tmp_path / "parley.db")


def _chat(base: str, *prompts: str) -> str:
    """A conversation holding a reply to each of `prompts` (titled by the first)."""
    with httpx.Client(base_url=base, trust_env=False) as client:
        cid = new_conversation(client)
        for prompt in prompts:
            send(client, cid, prompt)
    return cid


def _get(base: str, path: str) -> httpx.Response:
    with httpx.Client(base_url=base, trust_env=False) as client:
        return client.get(path)


def _copied(page: Page) -> str:
    """The clipboard's text once something replaced EMPTY (copying is asynchronous)."""
    text = EMPTY
    for _ in range(50):
        text = str(page.evaluate("navigator.clipboard.readText()"))
        if text != EMPTY:
            break
        page.wait_for_timeout(100)
    return text


def _parley_file(title: str, *, broken: bool = False) -> dict[str, Any]:
    """A Parley JSON document of one conversation (a prompt and its reply); `broken`: the
    reply's parent is missing, so an import refuses it."""
    at = "2025-01-02T03:04:05+00:00"
    prompt, reply = uuid.uuid4().hex, uuid.uuid4().hex
    messages = [
        {"id": prompt, "parent_id": None, "role": "user", "text": f"{title}?", "created_at": at,
         "parts": [{"type": "text", "text": f"{title}?"}]},
        {"id": reply, "parent_id": "nowhere" if broken else prompt, "role": "assistant",
         "text": "An answer.", "created_at": at, "model": "old",
         "parts": [{"type": "text", "text": "An answer."}]},
    ]  # fmt: skip
    conversation = {
        "id": uuid.uuid4().hex,
        "title": title,
        "created_at": at,
        "updated_at": at,
        "current_leaf_id": reply,
        "messages": messages,
    }
    return {"format": "parley", "version": 1, "exported_at": at, "conversations": [conversation]}


def _chatgpt_file(title: str) -> list[dict[str, Any]]:
    """ChatGPT's conversations.json, the smallest: one prompt and its answer."""

    def node(nid: str, parent: str | None, children: list[str], message: Any) -> dict[str, Any]:
        return {"id": nid, "message": message, "parent": parent, "children": children}

    def message(nid: str, role: str, text: str, at: float) -> dict[str, Any]:
        return {
            "id": nid,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": at,
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "end_turn": True if role == "assistant" else None,
            "weight": 1.0,
            "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {},
            "recipient": "all",
        }

    cid = str(uuid.uuid4())
    mapping = {
        "root": node("root", None, ["n1"], None),
        "n1": node("n1", "root", ["n2"], message("n1", "user", "Where to in spring?", 1.7e9)),
        "n2": node("n2", "n1", [], message("n2", "assistant", "Lisbon.", 1.7e9 + 5)),
    }
    return [
        {
            "title": title,
            "create_time": 1.7e9,
            "update_time": 1.7e9 + 5,
            "mapping": mapping,
            "current_node": "n2",
            "conversation_id": cid,
            "id": cid,
            "moderation_results": [],
        }
    ]


def _payload(name: str, document: Any) -> Any:
    from playwright.sync_api import FilePayload

    return FilePayload(name=name, mimeType="application/json", buffer=json.dumps(document).encode())


def test_share_a_conversation_then_update_and_revoke_the_link(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url, generate_titles=False) as base:
        cid = _chat(base, "Plans for the weekend")
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base)
        share = page.get_by_role("button", name="Share", exact=True)
        expect(share).to_be_hidden()  # nothing to share in a new chat
        page.goto(f"{base}/c/{cid}")
        share.click()

        dialog = page.get_by_role("dialog", name="Share conversation")
        expect(dialog).to_be_visible()
        files = dialog.get_by_role("checkbox", name="Include files and images")
        expect(files).not_to_be_checked()
        expect(dialog.get_by_role("button", name="Update link")).to_be_hidden()
        dialog.get_by_role("button", name="Create link").click()

        link = dialog.get_by_role("textbox", name="Link")
        expect(link).to_have_value(re.compile(rf"^{re.escape(base)}/s/\S+$"))
        expect(link).to_be_focused()
        expect(dialog.get_by_role("status")).to_have_text("Link created.")
        url = link.input_value()
        shared = _get(base, f"/api/conversations/{cid}/share").json()
        assert f"{base}{shared['url']}" == url
        assert shared["include_files"] is False
        expect(dialog).to_contain_text("Created ")
        expect(dialog.get_by_role("button", name="Create link")).to_be_hidden()

        # The link opens the shared page, for anyone with it (a page of its own).
        viewer = context.new_page()
        response = viewer.goto(url)
        assert response is not None and response.status == 200
        snapshot = _get(base, f"/api/shared/{shared['id']}").json()
        assert len(snapshot["messages"]) == 2
        viewer.close()

        page.evaluate(f"navigator.clipboard.writeText({EMPTY!r})")
        dialog.get_by_role("button", name="Copy link").click()
        assert _copied(page) == url
        expect(dialog.get_by_role("status")).to_have_text("Copied")

        # More is said; Update link shares it at the same URL.
        with httpx.Client(base_url=base, trust_env=False) as client:
            send(client, cid, "And on Sunday?")
        files.check()
        dialog.get_by_role("button", name="Update link").click()
        expect(dialog.get_by_role("status")).to_have_text(re.compile("^Link updated"))
        expect(link).to_have_value(url)
        updated = _get(base, f"/api/conversations/{cid}/share").json()
        assert (updated["id"], updated["include_files"]) == (shared["id"], True)
        assert len(_get(base, f"/api/shared/{shared['id']}").json()["messages"]) == 4

        # Revoke: the page is gone for everyone, and the dialog offers to share again.
        dialog.get_by_role("button", name="Revoke").click()
        expect(dialog.get_by_role("status")).to_have_text(re.compile("^Link revoked"))
        create = dialog.get_by_role("button", name="Create link")
        expect(create).to_be_focused()
        expect(link).to_be_hidden()
        assert _get(base, f"/api/shared/{shared['id']}").status_code == 404
        assert _get(base, f"/api/conversations/{cid}/share").status_code == 404
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()
        expect(share).to_be_focused()
        assert errors == []


def test_the_share_dialog_by_keyboard_alone_with_a_refusal_shown_in_it(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import Route, expect

    with serve(Echo().agent(), database_url, generate_titles=False) as base:
        cid = _chat(base, "Keyboard only")
        page, errors = open_page(browser, f"{base}/c/{cid}")
        share = page.get_by_role("button", name="Share", exact=True)
        expect(share).to_be_visible()
        share.focus()
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Share conversation")
        expect(dialog).to_be_visible()
        create = dialog.get_by_role("button", name="Create link")
        expect(create).to_be_visible()

        def tab_to_create() -> None:
            for _ in range(6):
                if create.evaluate("b => b === document.activeElement"):
                    return
                page.keyboard.press("Tab")
            expect(create).to_be_focused()

        # The server refuses: its sentence shows in the dialog, and nothing else changes.
        def refuse(route: Route) -> None:
            if route.request.method != "PUT":
                route.fallback()
                return
            body = json.dumps({"detail": "Sharing is switched off here."})
            route.fulfill(status=403, content_type="application/json", body=body)

        page.route("**/api/conversations/*/share", refuse)
        tab_to_create()
        page.keyboard.press("Enter")
        alert = dialog.get_by_role("alert")
        expect(alert).to_have_text("Could not create the link. Sharing is switched off here.")
        expect(create).to_be_focused()
        page.unroute("**/api/conversations/*/share")

        page.keyboard.press("Enter")
        link = dialog.get_by_role("textbox", name="Link")
        expect(link).to_be_focused()
        expect(link).to_have_value(re.compile(r"/s/\S+$"))
        expect(alert).to_be_hidden()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(share).to_be_focused()

        # Opened again, it shows the link made.
        page.keyboard.press("Enter")
        expect(dialog.get_by_role("textbox", name="Link")).to_have_value(link.input_value())
        expect(dialog.get_by_role("button", name="Update link")).to_be_visible()
        page.keyboard.press("Escape")
        expect(share).to_be_focused()
        assert errors == []


def test_the_shared_links_dialog_lists_and_revokes(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url, generate_titles=False) as base:
        first, second = _chat(base, "First shared"), _chat(base, "Second shared")
        made = {}
        with httpx.Client(base_url=base, trust_env=False) as client:
            for cid in (first, second):
                answer = client.put(
                    f"/api/conversations/{cid}/share", json={"include_files": False}
                )
                assert answer.status_code == 201, answer.text
                made[cid] = answer.json()
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base)
        opener = page.get_by_role("button", name="Shared links")
        opener.click()

        dialog = page.get_by_role("dialog", name="Shared links")
        items = dialog.get_by_role("list", name="Your shared links").get_by_role("listitem")
        expect(items).to_have_count(2)
        expect(items.nth(0)).to_contain_text("Second shared")  # newest first
        expect(items.nth(1)).to_contain_text("First shared")
        expect(items.nth(0)).to_contain_text("Created ")
        title = items.nth(1).get_by_role("link", name="First shared")
        expect(title).to_have_attribute("href", made[first]["url"])
        expect(title).to_have_attribute("target", "_blank")
        with context.expect_page() as opened:
            title.click()
        tab = opened.value
        tab.wait_for_load_state()
        assert tab.url == f"{base}{made[first]['url']}"
        tab.close()

        page.evaluate(f"navigator.clipboard.writeText({EMPTY!r})")
        dialog.get_by_role("button", name="Copy link to First shared").click()
        assert _copied(page) == f"{base}{made[first]['url']}"
        status = dialog.get_by_role("status")
        expect(status).to_have_text("Copied the link to “First shared”.")

        dialog.get_by_role("button", name="Revoke link to Second shared").click()
        expect(items).to_have_count(1)
        expect(status).to_have_text("Revoked the link to “Second shared”.")
        # The focus goes to the next row's Revoke, never lost.
        expect(dialog.get_by_role("button", name="Revoke link to First shared")).to_be_focused()
        assert _get(base, f"/api/shared/{made[second]['id']}").status_code == 404
        assert _get(base, f"/api/shared/{made[first]['id']}").status_code == 200

        page.keyboard.press("Enter")
        expect(items).to_have_count(0)
        expect(dialog.get_by_text("No shared links.")).to_be_visible()
        expect(dialog.get_by_role("button", name="Close")).to_be_focused()
        assert _get(base, "/api/shares").json()["items"] == []
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(opener).to_be_focused()
        assert errors == []


def test_import_files_through_the_file_chooser(browser: Browser, database_url: str) -> None:
    from playwright.sync_api import FilePayload, expect

    with serve(Echo().agent(), database_url, generate_titles=False) as base:
        page, errors = open_page(browser, base)
        expect(page.get_by_text("No conversations yet.")).to_be_visible()
        good, bad = _parley_file("Imported from Parley"), _parley_file("Cut", broken=True)
        parley = good | {"conversations": good["conversations"] + bad["conversations"]}

        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="Import", exact=True).click()
        assert not chooser.value.is_multiple()
        chooser.value.set_files(_payload("parley.json", parley))
        status = page.get_by_test_id("import-status")
        expect(status).to_have_text(
            "Imported 1 conversation, skipped 0 already imported, refused 1 (from a Parley export)."
        )
        refusals = page.get_by_role("list", name="Not imported").get_by_role("listitem")
        expect(refusals).to_have_count(1)
        expect(refusals.first).to_contain_text("“Cut”: ")
        expect(refusals.first).to_contain_text("is not before it")
        sidebar = page.get_by_test_id("conversation-list")
        expect(
            sidebar.get_by_role("button", name="Imported from Parley", exact=True)
        ).to_be_visible()

        # The same file again: already here.
        chooser_input = page.get_by_test_id("import-file")
        chooser_input.set_input_files(_payload("parley.json", parley))
        again = "Imported 0 conversations, skipped 1 already imported, refused 1"
        expect(status).to_have_text(f"{again} (from a Parley export).")

        chooser_input.set_input_files(_payload("conversations.json", _chatgpt_file("Spring trip")))
        chatgpt = "Imported 1 conversation, skipped 0 already imported, refused 0"
        expect(status).to_have_text(f"{chatgpt} (from a ChatGPT export).")
        expect(page.get_by_role("list", name="Not imported")).to_be_hidden()
        expect(sidebar.get_by_role("button", name="Spring trip", exact=True)).to_be_visible()
        sidebar.get_by_role("button", name="Spring trip", exact=True).click()
        expect(page.locator('[data-role="assistant"]').last).to_contain_text("Lisbon.")

        # A file that is not an export: refused whole, with the server's reason.
        broken = FilePayload(name="notes.json", mimeType="application/json", buffer=b"not json")
        chooser_input.set_input_files(broken)
        alert = page.get_by_role("alert").filter(has_text="Could not import “notes.json”.")
        expect(alert).to_contain_text("not valid JSON")
        expect(status).to_have_text("")
        dismiss = page.get_by_role("button", name="Dismiss", exact=True)
        dismiss.click()
        expect(alert).to_be_hidden()
        expect(page.get_by_role("button", name="Import", exact=True)).to_be_focused()
        assert errors == []


def test_export_links_download_the_conversation_and_everything(
    browser: Browser, database_url: str
) -> None:
    from playwright.sync_api import expect

    with serve(Echo().agent(), database_url, generate_titles=False) as base:
        cid = _chat(base, "Export me")
        _chat(base, "Another one")
        page, errors = open_page(browser, f"{base}/c/{cid}")
        toggle = page.get_by_role("button", name="Export", exact=True)
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        markdown = page.get_by_role("link", name="Markdown")
        as_json = page.get_by_role("link", name="JSON", exact=True)
        expect(markdown).to_have_attribute(
            "href", f"/api/conversations/{cid}/export?format=markdown"
        )
        expect(as_json).to_have_attribute("href", f"/api/conversations/{cid}/export?format=json")

        # Esc closes the menu, back on its button.
        page.keyboard.press("Escape")
        expect(markdown).to_be_hidden()
        expect(toggle).to_be_focused()

        page.keyboard.press("Enter")
        with page.expect_download() as downloading:
            as_json.click()
        document = json.loads(Path(downloading.value.path()).read_text())
        assert document["format"] == "parley"
        assert [c["id"] for c in document["conversations"]] == [cid]
        expect(as_json).to_be_hidden()  # a choice closes the menu

        toggle.click()
        with page.expect_download() as downloading:
            markdown.click()
        assert downloading.value.suggested_filename.endswith(".md")
        assert "Export me" in Path(downloading.value.path()).read_text()

        everything = page.get_by_role("link", name="Export all")
        expect(everything).to_have_attribute("href", "/api/export")
        with page.expect_download() as downloading:
            everything.click()
        assert re.fullmatch(
            r"parley-export-\d{4}-\d{2}-\d{2}\.json", downloading.value.suggested_filename
        )
        archive = json.loads(Path(downloading.value.path()).read_text())
        assert len(archive["conversations"]) == 2

        # A new chat has nothing to export.
        page.get_by_role("button", name="New chat").click()
        expect(toggle).to_be_hidden()
        assert errors == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_serious_violation_in_the_sharing_and_import_states(
    browser: Browser, database_url: str, theme: str
) -> None:
    from playwright.sync_api import expect

    source = axe_source()
    with serve(Echo().agent(), database_url, generate_titles=False) as base:
        cid = _chat(base, "Audited")
        # bypass_csp: axe is injected by the test, not served by Parley.
        context = browser.new_context(bypass_csp=True, color_scheme=theme)  # type: ignore[arg-type]
        page = context.new_page()
        audit = Audit(page, source, theme)
        page.goto(f"{base}/c/{cid}")
        expect(page.locator('[data-role="assistant"]')).to_have_count(1)

        page.get_by_role("button", name="Export", exact=True).click()
        expect(page.get_by_role("link", name="Markdown")).to_be_visible()
        audit("the export menu")
        page.keyboard.press("Escape")

        page.get_by_role("button", name="Share", exact=True).click()
        dialog = page.get_by_role("dialog", name="Share conversation")
        expect(dialog.get_by_role("button", name="Create link")).to_be_visible()
        audit("the share dialog, not shared")
        dialog.get_by_role("button", name="Create link").click()
        expect(dialog.get_by_role("status")).to_have_text("Link created.")
        audit("the share dialog, shared")
        page.keyboard.press("Escape")

        page.get_by_role("button", name="Shared links").click()
        expect(
            page.get_by_role("dialog", name="Shared links").get_by_role("listitem")
        ).to_have_count(1)
        audit("the shared links dialog")
        page.keyboard.press("Escape")

        bad = _parley_file("Refused", broken=True)
        page.get_by_test_id("import-file").set_input_files(_payload("bad.json", bad))
        expect(page.get_by_role("list", name="Not imported")).to_be_visible()
        audit("an import's report")
        context.close()
    assert audit.found == [], "\n".join(audit.found)
