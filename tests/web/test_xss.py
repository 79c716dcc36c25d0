"""Every payload of tests/xss_payloads.py, in a real Chromium, through every place text shows.

The payloads go in as user prompts, as model text (streamed in small chunks, then reloaded
from the saved HTML), as conversation titles (sidebar and header), as tool-call args and tool
results, as thinking and as an error detail. After each, the page is audited: no payload ran,
no dialog, no page error, no navigation or request off the test server, and no markup in the
log, sidebar or header that Parley itself does not make.

The browser context bypasses the page's Content-Security-Policy. The CSP is Parley's second
line; these tests check the first (the sanitizer for model markdown, text nodes for the
rest), so that a hole there is not hidden by the CSP blocking what leaked through.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import (
    AgentInfo,
    DeltaThinkingCalls,
    DeltaThinkingPart,
    DeltaToolCall,
    DeltaToolCalls,
    FunctionModel,
)

from ..support.browser import serve
from ..support.models import answers_a_prompt, prompts_of
from ..support.xss_audit import Watch, assert_clean, findings, open_watched, texts
from ..support.xss_payloads import ALL, BY_KIND, batches

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

# 131 payloads in 10 messages: few enough round trips to stay fast, while each message still
# streams many blocks.
BATCHES = batches(14)

# The regions where the payloads' text lands, and what Parley's own markup there is made of:
# anything else came from a payload. In the log: what the sanitizer lets markdown produce, the
# message chrome, tool and thinking parts (details/summary) and icons (svg/path); in the
# sidebar's list: its items and their buttons; the header's title holds text only.
_REGIONS = {
    "#log": "article div p h1 h2 h3 h4 h5 h6 ul ol li blockquote hr br pre code span em strong "
    "del s a img table thead tbody tr th td details summary button svg path",
    "#conversation-list": "li div button svg path",
    "#conversation-title": "",
}

# Collects, in the live page, everything that would mean markup from a payload got in.
_AUDIT = """
(regions) => {
  const show = (el) => el.outerHTML.slice(0, 200);
  const all = [...document.querySelectorAll('*')];
  const unexpected = [];
  const attributes = [];
  for (const [selector, names] of Object.entries(regions)) {
    const tags = new Set(names.split(' '));
    const root = document.querySelector(selector);
    if (!root) {
      unexpected.push(`${selector} is missing`);
      continue;
    }
    for (const el of root.querySelectorAll('*')) {
      if (!tags.has(el.localName)) unexpected.push(`${selector}: ${show(el)}`);
      if (el.localName === 'svg' && !el.classList.contains('icon')) {
        unexpected.push(`${selector}: ${show(el)}`);
      }
      for (const name of ['style', 'srcdoc', 'formaction', 'target', 'xlink:href', 'action']) {
        if (el.hasAttribute(name)) attributes.push(`${selector}: ${show(el)}`);
      }
      if (el.localName === 'img' && el.hasAttribute('src')) {
        attributes.push(`${selector}: ${show(el)}`);
      }
    }
  }
  return {
    // An on* attribute anywhere: Parley only ever uses addEventListener.
    handlers: all
      .filter((el) => [...el.attributes].some((a) => a.name.toLowerCase().startsWith('on')))
      .map(show),
    // Elements that run script, load a document or navigate, anywhere in the page except
    // the page's own scripts (its versioned files) and its same-origin links (forms are
    // only looked for in the regions above: the page has forms of its own).
    loaders: [
      ...document.querySelectorAll(
        'script:not([src^="/assets/"]), link:not([href^="/"]), iframe, frame, ' +
        'object, embed, base, meta[http-equiv], style, applet',
      ),
    ].map(show),
    // Links may only go to http(s) or mailto (relative links resolve to the test server).
    links: [...document.querySelectorAll('a[href], area[href]')]
      .filter((a) => !['http:', 'https:', 'mailto:'].includes(URL.parse(a.href)?.protocol))
      .map(show),
    unexpected,
    attributes,
  };
}
"""

_COUNT_UPDATES = """
window.__updates = {md: 0, tail: 0};
new MutationObserver((records) => {
  for (const record of records) {
    const target = record.target;
    if (!(target instanceof Element) || !record.addedNodes.length) continue;
    if (target.classList.contains('md')) window.__updates.md++;
    if (target.classList.contains('md-tail')) window.__updates.tail++;
  }
}).observe(document, {childList: true, subtree: true});
"""


def _assert_clean(page: Page, watch: Watch) -> None:
    assert_clean(page, watch, _AUDIT, _REGIONS)


def _open_details(page: Page) -> None:
    page.evaluate("() => document.querySelectorAll('#log details').forEach((d) => (d.open = true))")


def _echo_agent() -> Agent[None, str]:
    """Streams the prompt back as the reply, a few characters per delta, with pauses, so the
    reply reaches the page as many `text` frames and `block` events."""

    async def stream(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        prompt = prompts_of(messages)[-1]
        for i in range(0, len(prompt), 7):
            await asyncio.sleep(0.002)
            yield prompt[i : i + 7]

    return Agent(FunctionModel(stream_function=stream, model_name="echo"))


def _send(page: Page, prompt: str) -> None:
    from playwright.sync_api import expect

    count = page.locator('[data-role="assistant"]').count()
    box = page.get_by_role("textbox", name="Message")
    box.fill(prompt)
    box.press("Enter")
    reply = page.locator('[data-role="assistant"]').nth(count)
    expect(reply).to_have_attribute("data-status", "complete", timeout=15_000)


def test_payloads_in_user_and_model_text_stay_text(browser: Browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serve(_echo_agent(), tmp_path / "text.db") as base:
        page, watch = open_watched(browser, base)
        # Counts DOM updates of the reply being streamed: rendered blocks appended to `.md`,
        # and the plain-text tail rewritten between them.
        page.add_init_script(_COUNT_UPDATES)
        page.goto(base)
        updates: list[dict[str, int]] = []
        for prompt in BATCHES:
            page.evaluate("() => (window.__updates = {md: 0, tail: 0})")
            _send(page, prompt)
            updates.append(page.evaluate("() => window.__updates"))
        _assert_clean(page, watch)

        # The user's text is shown exactly as typed, markup and all.
        assert texts(page, '[data-role="user"] .msg__text') == BATCHES
        expect(page.locator('[data-role="user"]').first).to_contain_text("<script>")
        # The model's raw HTML shows as text too (markdown here has no raw HTML), and code
        # blocks keep their markup as code.
        expect(page.locator('[data-role="assistant"] .md').first).to_contain_text("<script>")
        code = " ".join(texts(page, '[data-role="assistant"] pre code'))
        assert "<script>" in code
        assert "</code></pre><script>" in code
        # Each reply did arrive as many rendered blocks with plain-text tails between them:
        # the streaming (`text` and `block`) path was exercised, not only the saved HTML.
        assert all(u["md"] >= 3 and u["tail"] >= 5 for u in updates), str(updates)
        streamed = texts(page, '[data-role="assistant"] .md')
        streamed_html = page.locator('[data-role="assistant"] .md').evaluate_all(
            "els => els.map(e => e.innerHTML)"
        )
        assert texts(page, '[data-role="assistant"] .md-tail') == [""] * len(BATCHES)

        # The saved HTML, as a reload renders it: the same, and as harmless.
        page.reload()
        expect(page.locator('[data-role="assistant"]')).to_have_count(len(BATCHES))
        expect(page.locator('[data-role="assistant"]').last).to_have_attribute(
            "data-status", "complete"
        )
        _assert_clean(page, watch)
        assert texts(page, '[data-role="user"] .msg__text') == BATCHES
        assert texts(page, '[data-role="assistant"] .md') == streamed
        assert (
            page.locator('[data-role="assistant"] .md').evaluate_all(
                "els => els.map(e => e.innerHTML)"
            )
            == streamed_html
        )


def test_payload_titles_stay_text_in_sidebar_and_header(browser: Browser, tmp_path: Path) -> None:
    titles = [payload.strip() for payload in ALL]
    assert all(0 < len(t) <= 200 for t in titles)  # what a title may be
    with serve(_echo_agent(), tmp_path / "titles.db") as base:
        with httpx.Client(base_url=base) as client:
            for title in titles:
                created = client.post("/api/conversations", json={})
                assert created.status_code == 201
                renamed = client.patch(
                    f"/api/conversations/{created.json()['id']}", json={"title": title}
                )
                assert renamed.status_code == 200, renamed.text
                assert renamed.json()["title"] == title
        first = created.json()["id"]

        page, watch = open_watched(browser, base)
        page.goto(f"{base}/c/{first}")
        more = page.locator("#load-more")
        page.locator(".conv__open").first.wait_for()
        while more.is_visible():
            listed = page.locator(".conv__open").count()
            more.click()
            page.wait_for_function(
                "n => document.querySelectorAll('.conv__open').length > n", arg=listed
            )
        assert sorted(texts(page, ".conv__open")) == sorted(titles)
        _assert_clean(page, watch)

        # Open some from the sidebar, two of every kind of payload (the header and the document
        # title take every title the same way; each opening costs a page update): they show
        # it as text.
        sample = {p.strip() for payloads in BY_KIND.values() for p in payloads[:2]}
        buttons = page.locator(".conv__open")
        shown = texts(page, ".conv__open")
        for i, title in enumerate(shown):
            if title not in sample:
                continue
            buttons.nth(i).click()
            # (document.title reads back with its whitespace collapsed.)
            page.wait_for_function(
                "t => document.querySelector('#conversation-title').textContent === t"
                " && document.title === `${t} · Parley`.replace(/[\\t\\n\\f\\r ]+/g, ' ')",
                arg=title,
            )
        _assert_clean(page, watch)


def _tool_agent() -> Agent[None, str]:
    """Thinks the whole corpus, calls its tool once per batch with the batch as an argument
    (the tool returns it), then answers."""

    async def stream(
        messages: list[ModelMessage], _info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls | DeltaThinkingCalls]:
        if answers_a_prompt(messages):
            yield {0: DeltaThinkingPart(content="\n\n".join(ALL))}
            for i, batch in enumerate(BATCHES, start=1):
                yield {
                    i: DeltaToolCall(
                        name="payloads",
                        json_args=json.dumps({"text": batch}),
                        tool_call_id=f"call-{i}",
                    )
                }
            return
        yield "Done."

    agent = Agent(FunctionModel(stream_function=stream, model_name="tools"))

    @agent.tool_plain
    def payloads(text: str) -> str:
        """Returns its argument."""
        return text

    return agent


def _assert_tool_parts(page: Page) -> None:
    _open_details(page)
    args = texts(page, ".part--tool-call .tool__body")
    assert sorted(json.loads(a)["text"] for a in args) == sorted(BATCHES)
    assert sorted(texts(page, ".part--tool-result .tool__body")) == sorted(BATCHES)
    assert texts(page, ".part--thinking .thinking__text") == ["\n\n".join(ALL)]
    assert page.locator(".part--tool .tool__name").all_text_contents() == ["payloads"] * (
        2 * len(BATCHES)
    )


def test_payloads_in_tool_calls_results_and_thinking_stay_text(
    browser: Browser, tmp_path: Path
) -> None:
    with serve(_tool_agent(), tmp_path / "tools.db") as base:
        page, watch = open_watched(browser, base)
        page.goto(base)
        _send(page, "Show me the payloads.")
        _assert_tool_parts(page)
        _assert_clean(page, watch)

        page.reload()
        page.locator('[data-role="assistant"][data-status="complete"]').wait_for()
        _assert_tool_parts(page)
        _assert_clean(page, watch)


def test_payloads_in_an_error_detail_stay_text(browser: Browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    corpus = "\n\n".join(ALL)

    async def stream(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        yield "Partial "
        raise RuntimeError(corpus)

    agent = Agent(FunctionModel(stream_function=stream, model_name="failing"))
    with serve(agent, tmp_path / "error.db") as base:
        page, watch = open_watched(browser, base)
        page.goto(base)
        page.get_by_role("textbox", name="Message").fill("fail, please")
        page.get_by_role("textbox", name="Message").press("Enter")
        failed = page.locator('[data-role="assistant"]').last
        expect(failed).to_have_attribute("data-status", "error")
        assert texts(page, '[data-role="assistant"] [role="alert"]') == [f"RuntimeError: {corpus}"]
        _assert_clean(page, watch)

        page.reload()
        expect(page.locator('[data-role="assistant"]').last).to_have_attribute(
            "data-status", "error"
        )
        assert texts(page, '[data-role="assistant"] [role="alert"]') == [f"RuntimeError: {corpus}"]
        _assert_clean(page, watch)


def test_the_checks_catch_markup_that_reaches_the_page(browser: Browser, tmp_path: Path) -> None:
    """The control for the tests above: with the payloads put into the log as HTML, unsanitized,
    the same checks fire. (innerHTML never runs <script>, but handlers, frames and loads do.)"""
    navigating = [p for p in ALL if "http-equiv" in p]
    with serve(_echo_agent(), tmp_path / "control.db") as base:
        page, watch = open_watched(browser, base)
        page.goto(base)
        page.locator("#log").evaluate(
            "(log, html) => html.forEach((h) => log.insertAdjacentHTML('beforeend', h))",
            [p for p in ALL if p not in navigating],
        )
        # The control must see every kind fire: on a loaded machine a broken image's error
        # event (and so its alert) can come later than findings' pause.
        deadline = time.monotonic() + 10
        while not watch.dialogs and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        found = findings(page, watch, _AUDIT, _REGIONS)
        assert len(found["hits"]) >= 20
        assert found.pop("page_errors") == []
        assert found.pop("navigations_elsewhere") == []
        assert all(found.values()), found

        # A meta refresh: the page leaves the test server (to an error page, as the request is
        # refused), and the checks say so.
        with page.expect_event("framenavigated", lambda frame: not frame.url.startswith(base)):
            page.locator("#log").evaluate(
                "(log, h) => log.insertAdjacentHTML('beforeend', h)", navigating[0]
            )
        assert findings(page, watch, _AUDIT, _REGIONS)["navigations_elsewhere"]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_the_corpus_covers_every_kind() -> None:
    assert len(ALL) >= 60
    assert len(set(ALL)) == len(ALL)
    assert all(len(payloads) >= 5 for payloads in BY_KIND.values())
    # Every payload that can run script names its own number, so a hit says which one ran;
    # the others navigate or load from a host a test can see.
    for n, payload in enumerate(ALL, start=1):
        calls = [f".push({n})", f"alert({n})", f"base64,{_b64(f'<script>alert({n})</script>')}"]
        assert any(call in payload for call in calls) or "xss.invalid" in payload, payload
