"""The page in a real Chromium: `python -m bench.frontend` (about two minutes; `--quick` for
one run of each).

Parley serves in this process (SQLite file, a `FunctionModel` streaming 4,000 tokens, one every
2 ms, most of them one long Python code block); Debian's Chromium is driven by Playwright, and
its own counters are read through the DevTools protocol (`Performance.getMetrics`):
- open: from navigation to the newest message shown, for a conversation of 20 and of 2,000
  messages (median of the runs);
- after scrolling the 2,000-message conversation to its first message (by scrolling alone):
  the elements in the document and the JS heap, against those when it opened;
- streaming the 4,000-token reply into an empty conversation and into the 2,000-message one:
  main-thread time (`TaskDuration`), layout, style recalculation and script time, from the
  prompt sent to the reply saved (median of the runs);
- first load: bytes on the wire (brotli, as Chromium asks), bytes once decoded, requests; and
  a repeat visit's bytes on the wire (the page revalidated, everything else from the cache).
What the columns mean and the figures: docs/benchmarks.md, "Front end".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel
from tests.support.browser import chromium, serve
from tests.support.databases import sqlite_url
from tests.support.seed import default_text, seed_conversation

from .table import table

if TYPE_CHECKING:
    from playwright.sync_api import Browser, CDPSession, Page

TOKENS = 4_000
TOKEN_DELAY = 0.002
LONG = 2_000
SHORT = 20


def _reply_tokens() -> list[str]:
    """4,000 tokens: a paragraph, a Python block of ~3,800 tokens, a closing paragraph."""
    intro = ["Here ", "is ", "the ", "whole ", "program, ", "with ", "its ", "tests:", "\n\n"]
    code = ["```python\n"]
    line = 0
    while len(intro) + len(code) < TOKENS - 40:
        code += ["def ", f"step_{line}", "(value: ", "int) -> ", "int:\n", "    return ", "value ",
                 "+ ", f"{line}\n"]  # fmt: skip
        line += 1
    code.append("```\n\n")
    outro = [w + " " for w in ("It runs as it is. " * 6).split()]
    return (intro + code + outro)[:TOKENS]


async def _stream(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
    for token in _reply_tokens():
        await asyncio.sleep(TOKEN_DELAY)
        yield token


def _metrics(cdp: CDPSession) -> dict[str, float]:
    found = cdp.send("Performance.getMetrics")["metrics"]
    return {m["name"]: float(m["value"]) for m in found}


def _wait_open(page: Page, newest: str) -> None:
    page.wait_for_function(
        """(newest) => {
            const log = document.getElementById('log');
            return log && !log.hasAttribute('aria-busy') && log.textContent.includes(newest);
        }""",
        arg=newest,
        timeout=60_000,
    )


def _open_ms(browser: Browser, url: str, newest: str) -> float:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    _wait_open(page, newest)
    elapsed: float = page.evaluate("performance.now()")
    context.close()
    return elapsed


def _counts(page: Page, cdp: CDPSession) -> tuple[int, float]:
    cdp.send("HeapProfiler.collectGarbage")
    elements: int = page.evaluate("document.getElementsByTagName('*').length")
    return elements, _metrics(cdp)["JSHeapUsedSize"]


def _scroll_to_top(page: Page, first: str) -> None:
    """Scroll up, as a reader does, until the first message is in the log."""
    for _ in range(2_000):
        if page.evaluate(
            "(first) => document.getElementById('log').textContent.includes(first)", first
        ):
            return
        page.evaluate("document.getElementById('log').scrollTop = 0")
        page.mouse.wheel(0, -2_000)
        page.wait_for_timeout(60)
    raise RuntimeError("scrolling never reached the first message")


def _stream_costs(browser: Browser, url: str) -> dict[str, float]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_function("!document.getElementById('log').hasAttribute('aria-busy')")
    replies = page.locator('[data-role="assistant"]')
    before = replies.count()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    start = _metrics(cdp)
    page.get_by_role("textbox", name="Message").fill("Write the program")
    page.get_by_role("button", name="Send").click()
    reply = replies.nth(before)
    reply.locator("xpath=self::*[@data-status='complete']").wait_for(timeout=120_000)
    # Every `block` has been applied by now: `done` comes after them on the same stream.
    end = _metrics(cdp)
    context.close()
    keys = ("TaskDuration", "LayoutDuration", "RecalcStyleDuration", "ScriptDuration")
    return {k: (end[k] - start[k]) * 1000 for k in keys}


def _load_bytes(browser: Browser, url: str) -> tuple[int, int, int, int, int]:
    """A first load's bodies on the wire, decoded, headers and requests, and a repeat visit's
    bytes on the wire (bodies and headers)."""
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    # Per request: [body bytes on the wire, decoded body bytes, header bytes].
    received: dict[str, list[int]] = {}

    def sizes(event: dict[str, Any]) -> list[int]:
        return received.setdefault(event["requestId"], [0, 0, 0])

    def on_response(event: dict[str, Any]) -> None:
        sizes(event)[2] = int(event["response"].get("encodedDataLength", 0))

    def on_data(event: dict[str, Any]) -> None:
        sizes(event)[1] += event["dataLength"]

    def on_finished(event: dict[str, Any]) -> None:
        found = sizes(event)
        found[0] = int(event["encodedDataLength"]) - found[2]

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.dataReceived", on_data)
    cdp.on("Network.loadingFinished", on_finished)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    # Every request of the first load, the API's included.
    first = [sum(v[i] for v in received.values()) for i in range(3)]
    requests = len(received)
    received.clear()
    page.goto(url)
    page.wait_for_load_state("networkidle")
    repeat = sum(v[0] + v[2] for v in received.values())
    context.close()
    return first[0], first[1], first[2], requests, repeat


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one run of each")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else 5
    stream_runs = 1 if args.quick else 3
    agent = Agent(FunctionModel(stream_function=_stream, model_name="bench"))
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        url = sqlite_url(Path(tmp) / "parley.db")
        with serve(agent, url, generate_titles=False) as base:
            short_id, _ = seed_conversation(url, SHORT, title="Short")
            long_id, _ = seed_conversation(url, LONG, title="Long")
            short_newest, long_newest = default_text(SHORT - 1), default_text(LONG - 1)

            cases = ((SHORT, short_id, short_newest), (LONG, long_id, long_newest))
            opened = {
                n: statistics.median(_open_ms(browser, f"{base}/c/{c}", new) for _ in range(runs))
                for n, c, new in cases
            }

            context = browser.new_context()
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.goto(f"{base}/c/{long_id}")
            _wait_open(page, long_newest)
            at_open = _counts(page, cdp)
            _scroll_to_top(page, default_text(0))
            at_top = _counts(page, cdp)
            context.close()

            streamed: dict[str, list[dict[str, float]]] = {"empty": [], "2,000 messages": []}
            for _ in range(stream_runs):
                streamed["empty"].append(_stream_costs(browser, base))
                # Each run adds a turn to the long conversation: 2,000, 2,002, 2,004 messages.
                streamed["2,000 messages"].append(_stream_costs(browser, f"{base}/c/{long_id}"))
            loaded = _load_bytes(browser, f"{base}/c/{short_id}")

    lines = ["Opening a conversation (ms, from navigation to the newest message shown)", ""]
    lines += table(
        ["messages", "open ms"],
        [[f"{n:,}", f"{ms:.0f}"] for n, ms in opened.items()],
    )
    ratio = opened[LONG] / opened[SHORT]
    lines += ["", f"2,000 / 20: {ratio:.2f}x (target: at most 1.5x)", ""]
    lines += ["Scrolling the 2,000-message conversation to its first message", ""]
    lines += table(
        ["when", "elements", "JS heap MB"],
        [
            ["opened", f"{at_open[0]:,}", f"{at_open[1] / 1e6:.1f}"],
            ["at the top", f"{at_top[0]:,}", f"{at_top[1] / 1e6:.1f}"],
        ],
    )
    lines += ["", f"elements at the top / opened: {at_top[0] / at_open[0]:.2f}x (target: 3x)", ""]
    lines += [
        f"Streaming {TOKENS:,} tokens, one every {TOKEN_DELAY * 1000:.0f} ms (ms, median)",
        "",
    ]
    medians = {
        name: {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        for name, rows in streamed.items()
    }
    keys = ("TaskDuration", "LayoutDuration", "RecalcStyleDuration", "ScriptDuration")
    lines += table(
        ["into", "main thread", "layout", "style", "script"],
        [[name, *(f"{m[k]:.0f}" for k in keys)] for name, m in medians.items()],
    )
    task_ratio = medians["2,000 messages"]["TaskDuration"] / medians["empty"]["TaskDuration"]
    lines += ["", f"main thread, 2,000 messages / empty: {task_ratio:.2f}x (target: 1.5x)", ""]
    encoded, decoded, headers, requests, repeat = loaded
    lines += ["Loading a conversation's page (bytes; Chromium accepts brotli)", ""]
    lines += table(
        ["load", "bodies compressed", "bodies decoded", "headers", "requests"],
        [
            ["first", f"{encoded:,}", f"{decoded:,}", f"{headers:,}", f"{requests}"],
            ["repeat (all bytes)", f"{repeat:,}", "", "", ""],
        ],
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
