"""The shared page in a real Chromium: every XSS payload of tests/support/xss_payloads.py in a
shared conversation (its title, prompts, thinking, tool calls and results, and replies) stays
inert text; the page runs under Parley's CSP without an error or a violation; and "Continue in
my chats" takes a logged-in viewer (sent through the login page first) to their own copy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ..support.axe import axe_source, violations
from ..support.browser import serve
from ..support.cli import add_user, create_token, migrate
from ..support.databases import sqlite_url
from ..support.files import png, send_files, uploaded
from ..support.models import payload_agent, tool_agent
from ..support.xss_audit import Watch, assert_clean, findings, open_watched, texts
from ..support.xss_payloads import ALL, batches

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

# 131 payloads in 10 prompts, each answered with the same text as thinking, a tool call's
# arguments, the tool's result and the reply.
BATCHES = batches(14)
PASSWORD = "a long password"

# The shared log's own markup (web/sharepage.py) and what the sanitizer lets markdown make:
# anything else in it came from a payload.
_LOG_TAGS = (
    "article h3 div p h1 h2 h4 h5 h6 ul ol li blockquote hr br pre code span em strong del s a "
    "img table thead tbody tr th td details summary time"
)

# Everything on the page that would mean a payload became markup (run in the page).
_AUDIT = """
(tags) => {
  const show = (el) => el.outerHTML.slice(0, 200);
  const allowed = new Set(tags.split(' '));
  const log = document.querySelector('.share__log');
  const risky = ['style', 'srcdoc', 'formaction', 'target', 'action'];
  const inLog = [...log.querySelectorAll('*')];
  return {
    unexpected: inLog.filter((el) => !allowed.has(el.localName)).map(show),
    attributes: inLog
      .filter((el) => risky.some((a) => el.hasAttribute(a))
        || (el.localName === 'img' && el.hasAttribute('src')))
      .map(show),
    handlers: [...document.querySelectorAll('*')]
      .filter((el) => [...el.attributes].some((a) => a.name.toLowerCase().startsWith('on')))
      .map(show),
    loaders: [...document.querySelectorAll(
      'script:not([src^="/assets/"]), link:not([href^="/assets/"]), iframe, frame, object, ' +
      'embed, base, meta[http-equiv], style, form, applet',
    )].map(show),
    links: [...document.querySelectorAll('a[href]')]
      .filter((a) => !['http:', 'https:', 'mailto:'].includes(URL.parse(a.href)?.protocol))
      .map(show),
  };
}
"""


def _open(browser: Browser, base: str, *, bypass_csp: bool) -> tuple[Page, Watch]:
    page, watch = open_watched(browser, base, bypass_csp=bypass_csp)
    # Violations of the CSP, as the page itself sees them.
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI}`));"
    )
    return page, watch


def _share(api: httpx.Client, cid: str, **headers: str) -> dict[str, Any]:
    """Share the conversation with its files (201: a new share)."""
    shared = api.put(
        f"/api/conversations/{cid}/share", json={"include_files": True}, headers=headers
    )
    assert shared.status_code == 201, shared.text
    share: dict[str, Any] = shared.json()
    return share


def _send(api: httpx.Client, cid: str, prompt: str, **headers: str) -> None:
    url = f"/api/conversations/{cid}/messages"
    with api.stream("POST", url, json={"prompt": prompt}, headers=headers) as response:
        assert response.status_code == 200
        response.read()


def test_payloads_in_a_shared_conversation_stay_text(browser: Browser, tmp_path: Path) -> None:
    title = ALL[0].strip()
    with serve(payload_agent(), tmp_path / "shared.db") as base:
        with httpx.Client(base_url=base, trust_env=False, timeout=30) as api:
            cid = api.post("/api/conversations", json={}).json()["id"]
            for prompt in BATCHES:
                _send(api, cid, prompt)
            assert api.patch(f"/api/conversations/{cid}", json={"title": title}).is_success
            share = _share(api, cid)

        # The CSP bypassed: what is checked is the first line (escaping, the sanitizer), so
        # that a hole there is not hidden by the CSP blocking what leaked through.
        page, watch = _open(browser, base, bypass_csp=True)
        page.goto(base + share["url"])
        page.evaluate("() => document.querySelectorAll('details').forEach((d) => (d.open = true))")
        assert_clean(page, watch, _AUDIT, _LOG_TAGS)

        # Each payload is there, as the text it is, wherever it was.
        assert page.locator("h1").text_content() == title
        assert page.title() == re.sub(r"\s+", " ", f"{title} · Shared · Parley").strip()
        assert texts(page, '[data-role="user"] .msg__text') == BATCHES
        assert texts(page, ".thinking__text") == BATCHES
        args = texts(page, ".part--tool-call .tool__body")
        assert [json.loads(a)["text"] for a in args] == BATCHES
        assert texts(page, ".part--tool-result .tool__body") == BATCHES
        replies = texts(page, '[data-role="assistant"] .md')
        assert len(replies) == len(BATCHES) and "<script>" in replies[0]
        code = " ".join(texts(page, '[data-role="assistant"] pre code'))
        assert "</code></pre><script>" in code

        # The control: the same checks do fire on a payload put into the page as markup.
        page.locator(".share__log").evaluate(
            "(log, html) => log.insertAdjacentHTML('beforeend', html)", ALL[11]
        )
        caught = findings(page, watch, _AUDIT, _LOG_TAGS)
        assert caught["hits"] == ["12"] and caught["handlers"], caught


def test_the_page_runs_under_the_csp_and_continue_opens_the_copy(
    browser: Browser, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    database = sqlite_url(tmp_path / "continue.db")
    migrate(database)
    add_user(database, "alice", PASSWORD)
    add_user(database, "bob", PASSWORD)
    alice = {"Authorization": f"Bearer {create_token(database, 'alice')}"}
    prompt = "Show me `code` and **markup**: <b>not bold</b>"
    with serve(payload_agent(), database, auth="accounts") as base:
        with httpx.Client(base_url=base, trust_env=False, timeout=30) as api:
            cid = api.post("/api/conversations", json={}, headers=alice).json()["id"]
            _send(api, cid, prompt, **alice)
            _send(api, cid, "```python\nprint('highlighted')\n```", **alice)
            share = _share(api, cid, **alice)

        page, watch = _open(browser, base, bypass_csp=False)
        # Not logged in: the login page first, then back to the share.
        page.goto(base + share["url"])
        expect(page).to_have_url(re.compile(r"/login\?next=/s/"))
        page.get_by_label("Name").fill("bob")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(base + share["url"])

        expect(page.get_by_role("heading", level=1)).to_have_text(prompt)
        expect(page.get_by_role("main")).to_contain_text("Shared conversation · snapshot of")
        user = page.locator('[data-role="user"] .msg__text')
        expect(user).to_have_text([prompt, "```python\nprint('highlighted')\n```"])
        # The stylesheets applied (the CSP lets Parley's own through): code is highlighted,
        # the prompt is laid out as a message.
        assert page.locator(".md .highlight, .md pre").count() >= 1
        assert user.first.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-wrap"
        assert page.locator("meta[name=robots]").get_attribute("content") == "noindex, nofollow"

        assert page.evaluate("() => window.__csp ?? []") == []
        page.get_by_role("button", name="Continue in my chats").click()
        expect(page).to_have_url(re.compile(r"/c/[A-Za-z0-9_-]+$"))
        copy_id = page.url.rsplit("/", 1)[1]
        assert copy_id != cid
        expect(page.locator('[data-role="user"] .msg__text').first).to_have_text(prompt)
        expect(page.locator("#conversation-title")).to_have_text(prompt)
        expect(page.locator(".conv__open")).to_have_text([prompt])

        # Nothing on either page was refused by the CSP, and nothing failed.
        assert page.evaluate("() => window.__csp ?? []") == []
        assert watch.errors == [] and watch.console == [] and watch.dialogs == []
        assert watch.outside == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_shared_page_passes_axe(browser: Browser, tmp_path: Path, theme: str) -> None:
    source = axe_source()
    answer = "A table and math.\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n$e^{i\\pi} + 1 = 0$"
    agent = tool_agent(answer=answer, model_name="audited")
    with serve(agent, tmp_path / "axe.db", generate_titles=False) as base:
        with httpx.Client(base_url=base, trust_env=False, timeout=30) as api:
            image = uploaded(api, "cat.png", png())
            cid = api.post("/api/conversations", json={}).json()["id"]
            send_files(api, cid, "What is the weather in Paris?", [image])
            share = _share(api, cid)
        # bypass_csp: axe is injected by the test, not served by Parley.
        context = browser.new_context(bypass_csp=True, color_scheme=theme)  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(base + share["url"])
        page.evaluate("() => document.querySelectorAll('details').forEach((d) => (d.open = true))")
        page.locator(".file-chip__thumb").evaluate("img => img.decode()")
        found = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
            for v in violations(page, source)
            # Serious and critical ones, as for the app; and the page's structure, whatever
            # axe rates it: a language, one main landmark, a first-level heading.
            if v["impact"] in ("serious", "critical")
            or v["id"] in ("html-has-lang", "landmark-one-main", "page-has-heading-one", "region")
        ]
        assert found == []
