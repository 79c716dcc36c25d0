"""axe-core in a real page: its source (from the npm registry, found through PARLEY_AXE_JS) and
an audit that collects the serious and critical violations of each state a test shows."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page


def axe_source() -> str:
    """axe.min.js (`.ci/run` installs it next to TypeScript and points PARLEY_AXE_JS at it); the
    test is skipped without it, or fails with PARLEY_REQUIRE_BROWSER set."""
    path = os.environ.get("PARLEY_AXE_JS", "")
    if not path or not Path(path).is_file():
        reason = "axe-core is missing: set PARLEY_AXE_JS to axe.min.js (.ci/run installs it)"
        if os.environ.get("PARLEY_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(path).read_text()


def violations(page: Page, source: str) -> list[dict[str, Any]]:
    """axe's violations in the page as it is (axe injected from `source` the first time)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    results: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, { resultTypes: ['violations'] })"
    )
    found: list[dict[str, Any]] = results["violations"]
    return found


class Audit:
    """Runs axe in the page and keeps what is serious or critical, by state."""

    def __init__(self, page: Page, source: str, theme: str) -> None:
        self.page = page
        self.source = source
        self.theme = theme
        self.found: list[str] = []

    def __call__(self, state: str) -> None:
        page = self.page
        # What the user sees once transitions end (a button fading in is not a contrast bug).
        page.wait_for_function(
            """() => document.getAnimations().every((a) =>
                a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity)"""
        )
        for violation in violations(page, self.source):
            if violation["impact"] in ("serious", "critical"):
                targets = [node["target"] for node in violation["nodes"]][:5]
                self.found.append(
                    f"[{self.theme}] {state}: {violation['id']} ({violation['impact']}): "
                    f"{violation['help']} at {json.dumps(targets)}"
                )
