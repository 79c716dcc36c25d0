"""What rendering a streamed reply costs by kind of markdown: `BlockStreamer` fed one line per
delta, for N and 2N lines of each kind; a cost that grows linearly shows a 2N/N ratio near 2.

Run from the repository root: `python -m bench.render` (under 10 s with the current renderer;
minutes with one that re-parses open blocks), `--lines 500` for other sizes, `--render PATH` to
measure another copy of `parley/render.py` (e.g. `git show HEAD:src/parley/render.py >
/tmp/render_orig.py`). Each run is also checked: characters parsed, and the HTML against
`render_markdown` of the whole text.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .table import table

# --- the replies: each kind is a function from a line count to that many lines --------------


def _paragraphs(n: int) -> list[str]:
    # Paragraphs of eight lines, blank lines between them.
    return [f"Line {i} of a paragraph, with *some* words.\n" if i % 9 else "\n" for i in range(n)]


def _blockquote(n: int) -> list[str]:
    # One quote of one paragraph, as a long quoted passage is.
    return [f"> Quoted line {i}, and more of it.\n" for i in range(n)]


def _blockquote_parts(n: int) -> list[str]:
    # One quote: paragraphs of seven lines separated by ">" lines, a list now and then.
    def line(i: int) -> str:
        if i % 8 == 7:
            return ">\n"
        if i % 40 in (32, 33):
            return f"> - point {i}\n"
        return f"> Quoted line {i}, and more of it.\n"

    return [line(i) for i in range(n)]


def _bullet_list(n: int) -> list[str]:
    # One item holding a long nested list with continuation lines, a blank line now and then.
    def line(i: int) -> str:
        if i == 0:
            return "- overview\n"
        if i % 25 == 24:
            return "\n"
        return ("  - point {i}\n", "    continued {i}\n")[i % 2].format(i=i)

    return [line(i) for i in range(n)]


def _ordered_list(n: int) -> list[str]:
    # Steps of 100 lines: details, nested ordered and bullet items.
    def line(i: int) -> str:
        k = i // 100 + 1
        if i % 100 == 0:
            return f"{k}. step {i}\n"
        pad = " " * len(f"{k}. ")
        cycle = ["detail {i}\n", "1. sub-step {i}\n", "   more {i}\n", "- note\n"]
        return pad + cycle[i % 4].format(i=i)

    return [line(i) for i in range(n)]


def _lazy_lines(n: int) -> list[str]:
    # Lazy continuation lines (not marked as quoted or indented) in a quote and a list item:
    # only a parse can tell they go on with the paragraph.
    half = n // 2
    quote = [f"> quoted {i}\n" if i % 2 else f"lazy {i}\n" for i in range(half)]
    items = [f"- item {i}\n" if i % 50 == 0 else f"lazy {i}\n" for i in range(n - half)]
    return [*quote, "\n", *items[: n - half - 1]]


def _indented_code(n: int) -> list[str]:
    return [f"    x_{i} = compute({i})\n" if i % 10 != 9 else "\n" for i in range(n)]


def _fenced_code(n: int) -> list[str]:
    body = [f"x_{i} = compute({i})  # 1. not a list\n" for i in range(n - 2)]
    return ["```python\n", *body, "```\n"]


def _table(n: int) -> list[str]:
    rows = [f"| {i} | cell {i} | *{i % 7}* |\n" for i in range(n - 2)]
    return ["| n | name | mod |\n", "|---:|:---|:-:|\n", *rows]


def _digit_lines(n: int) -> list[str]:
    # Paragraph lines starting with a digit (a year, a count), none a list marker.
    return [f"{1900 + i} was a year, {i} things happened.\n" if i % 25 else "\n" for i in range(n)]


def _html_lines(n: int) -> list[str]:
    # With html off these are paragraph text: lines starting with "<" and "*".
    cycle = ["<span>tag {i}</span> text\n", "*em {i}* and **strong**\n", "<br> line {i}\n"]
    return [cycle[i % 3].format(i=i) if i % 30 else "\n" for i in range(n)]


_MIXED = [
    "## Section {i}\n",
    "\n",
    "Some text about {i}, with `code` and a [link](https://example.com).\n",
    "It goes on for a second line.\n",
    "\n",
    "- first point {i}\n",
    "- second point\n",
    "  with a continuation\n",
    "\n",
    "> a quote {i}\n",
    "> on two lines\n",
    "\n",
    "```python\n",
    "def f_{i}(x):\n",
    "    return x * {i}\n",
    "```\n",
    "\n",
    "| a | b |\n",
    "|---|---|\n",
    "| {i} | 2 |\n",
    "\n",
    "1. one\n",
    "2. two\n",
    "\n",
]


def _mixed(n: int) -> list[str]:
    return [_MIXED[i % len(_MIXED)].format(i=i // len(_MIXED)) for i in range(n)]


KINDS: list[tuple[str, Callable[[int], list[str]]]] = [
    ("paragraphs", _paragraphs),
    ("blockquote", _blockquote),
    ("quote, paragraphs", _blockquote_parts),
    ("bullet list", _bullet_list),
    ("ordered list", _ordered_list),
    ("indented code", _indented_code),
    ("fenced code", _fenced_code),
    ("table", _table),
    ("digit lines", _digit_lines),
    ("< and * lines", _html_lines),
    ("mixed", _mixed),
    ("lazy lines", _lazy_lines),
]

# --- measuring ---------------------------------------------------------------------------


def _load(path: str | None) -> ModuleType:
    if path is None:
        import parley.render

        return parley.render
    spec = importlib.util.spec_from_file_location("_bench_render", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _stream(render: ModuleType, lines: list[str]) -> str:
    streamer = render.BlockStreamer()
    out: list[str] = []
    for line in lines:
        block = streamer.feed(line)
        if block is not None:
            out.append(block[0])
    block = streamer.finish()
    if block is not None:
        out.append(block[0])
    return "".join(out)


def _cpu(render: ModuleType, lines: list[str]) -> float:
    """The least CPU of up to 3 runs, fewer once the runs took a second in all."""
    best, spent = float("inf"), 0.0
    for _ in range(3):
        gc.collect()
        start = time.process_time()
        _stream(render, lines)
        took = time.process_time() - start
        best, spent = min(best, took), spent + took
        if spent >= 1.0:
            break
    return best


class _CountingScanner:
    """Stands in for the module's `_SCANNER`, counting the characters it is asked to parse."""

    def __init__(self, scanner: Any) -> None:
        self.scanner = scanner
        self.chars = 0

    def parse(self, src: str, *args: Any, **kwargs: Any) -> Any:
        self.chars += len(src)
        return self.scanner.parse(src, *args, **kwargs)


def _check(render: ModuleType, lines: list[str]) -> tuple[float, bool]:
    """Characters parsed per character of text (untimed), and whether the HTML is right."""
    scanner = render._SCANNER
    counting = _CountingScanner(scanner)
    setattr(render, "_SCANNER", counting)  # noqa: B010 (the module is typed as ModuleType)
    try:
        html = _stream(render, lines)
    finally:
        setattr(render, "_SCANNER", scanner)  # noqa: B010
    text = "".join(lines)
    return counting.chars / len(text), html == render.render_markdown(text)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.render", description=__doc__)
    parser.add_argument("--lines", type=int, default=1000, help="N (default 1000)")
    parser.add_argument("--render", metavar="PATH", help="a render.py to load instead")
    args = parser.parse_args()
    render = _load(args.render)
    n = args.lines
    rows: list[list[str]] = []
    for label, kind in KINDS:
        small, large = kind(n), kind(2 * n)
        _cpu(render, kind(50))  # warm-up: lexers, regexes, caches
        t_small, t_large = _cpu(render, small), _cpu(render, large)
        scanned, same = _check(render, large)
        rows.append(
            [
                label,
                f"{t_small:.3f}",
                f"{t_large:.3f}",
                f"{t_large / t_small:.1f}",
                f"{scanned:.1f}",
                "yes" if same else "NO",
            ]
        )
    print("Parley benchmark: BlockStreamer over a reply streamed one line per delta")
    print(f"command   python -m bench.render {' '.join(sys.argv[1:])}".rstrip())
    print(f"render    {render.__file__}")
    print(f"python    {platform.python_implementation()} {platform.python_version()}, ", end="")
    print(f"{os.cpu_count()} CPUs")
    print()
    header = ["kind", f"{n} lines s", f"{2 * n} lines s", "ratio", "parsed/char", "html ok"]
    print("\n".join(table(header, rows)))
    print("  s            CPU seconds (time.process_time) to stream N and 2N lines and finish,")
    print("               the least of 3 runs (fewer when they take over a second in all)")
    print(f"  ratio        {2 * n} lines / {n} lines: about 2 when the cost is linear")
    print(f"  parsed/char  characters the block scanner parsed per character, {2 * n} lines")
    print("  html ok      the streamed blocks' HTML equals render_markdown of the whole text")


if __name__ == "__main__":
    main()
