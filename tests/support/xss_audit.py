"""Watching a page that shows the payloads of xss_payloads.py: what it did that a payload could
have caused (a dialog, a page error, a request or navigation off the test server, a hit of the
payloads' hook), and what a test's audit script finds in its DOM."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@dataclass
class Watch:
    """What the page did that a payload could have caused."""

    base: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)  # console errors
    outside: list[str] = field(default_factory=list)  # requests off the test server, aborted
    navigations: list[str] = field(default_factory=list)  # of the page itself


def open_watched(browser: Browser, base: str, *, bypass_csp: bool = True) -> tuple[Page, Watch]:
    """A new page in a new context, watched from the start."""
    from playwright.sync_api import Dialog, Error, Frame, Route

    watch = Watch(base)
    context = browser.new_context(bypass_csp=bypass_csp)

    def refuse(route: Route) -> None:
        watch.outside.append(route.request.url)
        route.abort()

    # Nothing may leave the test server; a request elsewhere is recorded, then refused.
    context.route(lambda url: not url.startswith(base + "/"), refuse)
    page = context.new_page()
    page.set_default_timeout(10_000)

    def dialog(d: Dialog) -> None:
        watch.dialogs.append(d.message)
        with contextlib.suppress(Error):  # the page may be navigating away meanwhile
            d.dismiss()

    def navigated(frame: Frame) -> None:
        if frame == page.main_frame:
            watch.navigations.append(frame.url)

    page.on("dialog", dialog)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    page.on("console", lambda m: watch.console.append(m.text) if m.type == "error" else None)
    page.on("framenavigated", navigated)
    return page, watch


def findings(page: Page, watch: Watch, audit: str, arg: object) -> dict[str, list[str]]:
    """Everything that shows a payload ran, loaded or navigated, and, while the page is still
    on the test server, what `audit` (a script run in the page with `arg`) reports: a list
    per kind, empty where nothing was found."""
    # Error events of broken images, toggle events and autofocus all fire asynchronously.
    page.wait_for_timeout(400)
    origin = watch.base + "/"
    found: dict[str, list[str]] = {
        "dialogs": list(watch.dialogs),
        "hits": [str(n) for n in page.evaluate("() => window.__xss_hits ?? []")],
        "page_errors": list(watch.errors),
        "requests_elsewhere": list(watch.outside),
        "navigations_elsewhere": [
            u for u in [*watch.navigations, page.url] if not u.startswith(origin)
        ],
    }
    if page.url.startswith(origin):
        found.update(page.evaluate(audit, arg))
    return found


def assert_clean(page: Page, watch: Watch, audit: str, arg: object) -> None:
    found = findings(page, watch, audit, arg)
    assert {kind: items for kind, items in found.items() if items} == {}


def texts(page: Page, selector: str) -> list[str]:
    """The text content of every element `selector` matches, in order."""
    found: list[str] = page.locator(selector).evaluate_all("els => els.map(e => e.textContent)")
    return found
