"""Turning a model's markdown into safe HTML, whole or block by block while it streams.

Owns the markdown dialect (CommonMark plus GFM tables and strikethrough), code highlighting
(Pygments, CSS classes only), the HTML sanitizer policy, and `BlockStreamer`, which renders each
finished top-level block of a streamed text part exactly once (see docs/protocol.md, `block`).
"""

from __future__ import annotations

import functools
import itertools
import re
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from pygments import highlight  # type: ignore[import-untyped]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
from pygments.lexers import get_lexer_by_name  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]

__all__ = ["BlockStreamer", "highlight_css", "render_markdown"]

# Pygments classes only, no inline styles: the page's stylesheet (highlight_css) colours them.
_FORMATTER = HtmlFormatter(nowrap=True)

# markdown-it's own idea of a line ending; line numbers in token maps count these.
_NEWLINE = re.compile(r"\r\n?|\n")

_CONTAINERS = ("bullet_list_open", "ordered_list_open", "blockquote_open")

# Complete lines that cannot end the last block, by what that block is; when all new lines
# match, BlockStreamer skips its rescan. An open fence ends only at a line of ``` or ~~~. A
# paragraph or table reaching the last line goes on through lines starting with a letter
# (no block construct starts with one), a table also through "|" rows; a setext underline,
# a table's delimiter row or anything else makes the streamer rescan.
_QUIET_FENCE = re.compile(r"(?:(?!```|~~~)[\s\S])*")
_QUIET_PARAGRAPH = re.compile(r"(?:[ \t]*[^\W\d_][^\r\n]*(?:\r\n?|\n))*")
_QUIET_TABLE = re.compile(r"(?: {0,3}(?:\||[^\W\d_])[^\r\n]*(?:\r\n?|\n))*")


def _highlight(code: str, lang: str, _attrs: str) -> str:
    """Highlight a fenced block; "" makes markdown-it fall back to plain escaped code."""
    if not code or not lang:
        return ""
    try:
        # stripnl/ensurenl off: highlighted code must keep exactly the text of the fence.
        lexer = get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return ""
    body: str = highlight(code, lexer, _FORMATTER)
    return f'<pre class="highlight"><code class="language-{escapeHtml(lang)}">{body}</code></pre>'


def _align_classes(state: StateCore) -> None:
    """Move table cells' style="text-align:x" to class="align-x": no style attribute needed."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open"):
            style = token.attrs.pop("style", None)
            if isinstance(style, str) and style.startswith("text-align:"):
                token.attrs["class"] = "align-" + style.removeprefix("text-align:")


def _markdown(*, inline: bool) -> MarkdownIt:
    # html=False: raw HTML in the model's text is shown as text, never parsed as markup.
    # No linkify: it needs linkify-it-py, which parley does not install.
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("align_classes", _align_classes)
    if not inline:
        md.disable("inline")
    return md


_MD = _markdown(inline=True)
# Block structure only, for deciding where BlockStreamer may cut; skipping inline parsing keeps
# the per-line rescans cheap.
_SCANNER = _markdown(inline=False)

# Why sanitize at all, and why after rendering: the markdown comes from a model that may be
# steered by prompt injection, and markdown-it's own link check is a blocklist applied to
# markdown syntax only. Sanitizing the *output* checks exactly the HTML the browser will parse,
# whatever path (renderer bug, highlighter, plugin) produced it; sanitizing the source first
# would leave the rendering step unchecked. The allowlist is the markup markdown produces.
_SANITIZER = nh3.Cleaner(
    tags={
        *("p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "hr", "br"),
        *("pre", "code", "span", "em", "strong", "del", "s", "a", "img"),
        *("table", "thead", "tbody", "tr", "th", "td"),
    },
    attributes={
        "a": {"href", "title"},
        "img": {"src", "alt", "title"},
        "span": {"class"},
        "code": {"class"},
        "pre": {"class"},
        "ol": {"start"},
    },
    allowed_classes={
        "th": {"align-left", "align-center", "align-right"},
        "td": {"align-left", "align-center", "align-right"},
    },
    # Allowlist, not blocklist: javascript:, vbscript:, data: and anything else are dropped.
    # nh3 parses URLs the way browsers do (entities decoded, case folded, tabs/newlines and
    # leading control characters removed), so obfuscated schemes are caught too. Relative and
    # fragment links pass through: they stay on this origin.
    url_schemes={"http", "https", "mailto"},
    # Model-written links are untrusted: no opener access, no referrer, no endorsement.
    link_rel="noopener noreferrer nofollow",
)


def _render(text: str, env: dict[str, Any]) -> str:
    return _SANITIZER.clean(_MD.render(text, env))


def render_markdown(text: str) -> str:
    """Render markdown to sanitized HTML; blocks end with a newline, so renders concatenate."""
    return _render(text, {})


def _style_defs(style: str) -> str:
    formatter = HtmlFormatter(style=style)
    scope = ".md .highlight"
    lines: list[str] = formatter.get_background_style_defs(scope)
    lines += formatter.get_token_style_defs(scope)
    return "\n".join(lines)


@functools.cache
def highlight_css() -> str:
    """The stylesheet for highlighted code, scoped under `.md`; a light and a dark theme."""
    # Each theme only inside its own media query: a token the dark theme leaves uncoloured
    # must not keep the light theme's colour.
    return (
        f"@media not all and (prefers-color-scheme: dark) {{\n{_style_defs('default')}\n}}\n"
        f"@media (prefers-color-scheme: dark) {{\n{_style_defs('github-dark')}\n}}\n"
    )


def _line_offset(text: str, line: int, pos: int = 0) -> int:
    """The index in `text` where the `line`-th line (0-based) after index `pos` starts."""
    if line == 0:
        return pos
    match = next(itertools.islice(_NEWLINE.finditer(text, pos), line - 1, None))
    return match.end()


def _quiet_lines(last: Token, source: str) -> re.Pattern[str] | None:
    """Which new lines cannot end `last`, the last top-level block of `source`; see _QUIET_*."""
    assert last.map is not None
    first, end = last.map
    if last.type == "fence":
        # A fence that has not closed has one line fewer (no closing line) than its map.
        return _QUIET_FENCE if last.content.count("\n") == end - first - 1 else None
    lines = source.count("\n") + source.count("\r") - source.count("\r\n")
    if end != lines:  # blank lines after the block: the next line starts a new one
        return None
    return {"paragraph_open": _QUIET_PARAGRAPH, "table_open": _QUIET_TABLE}.get(last.type)


class BlockStreamer:
    """Renders one streamed text part: each finished top-level block once, the tail at the end.

    A block is finished once a later top-level block has started on a complete line: markdown's
    block structure is decided line by line, so nothing after that can change it (except
    reference definitions that appear later). Cuts fall at the start of a line, so the rendered
    chunks concatenate to the render of the whole text.
    """

    def __init__(self) -> None:
        self._rendered_text: list[str] = []
        self._html: list[str] = []
        self._n = 0
        self._tail = ""  # text[n:] as of the last newline
        self._pending: list[str] = []  # deltas since then, joined lazily
        self._scanned = 0  # offset in the tail up to which complete lines were scanned
        self._restart = 0  # offset in the tail (a line start) where the next scan begins
        self._quiet: re.Pattern[str] | None = None  # new lines that cannot end the last block
        # Shared across chunks so a reference definition resolves in the blocks after it.
        self._env: dict[str, Any] = {}

    @property
    def text(self) -> str:
        return "".join(self._rendered_text) + self._tail + "".join(self._pending)

    @property
    def html(self) -> str:
        return "".join(self._html)

    def feed(self, delta: str) -> tuple[str, int] | None:
        """Append a delta; return (html of newly finished blocks, n) if any finished."""
        self._pending.append(delta)
        # Hot path: a block can only finish at a line boundary, so without a newline in the
        # delta there is nothing to decide and the delta is not even concatenated.
        if "\n" not in delta and "\r" not in delta:
            return None
        tail = self._tail = self._tail + "".join(self._pending)
        self._pending = []
        # Only complete lines: a partial line can still change what it is ("#" is a heading,
        # "#tag" continues the paragraph above it).
        end = max(tail.rfind("\n"), tail.rfind("\r")) + 1
        if self._quiet is not None and self._quiet.fullmatch(tail, self._scanned, end):
            self._scanned = end
            return None
        return self._scan(end)

    def _scan(self, end: int) -> tuple[str, int] | None:
        tail, restart = self._tail, self._restart
        self._scanned = end
        source = tail[restart:end]
        tokens = _SCANNER.parse(source)
        blocks = [
            i
            for i, token in enumerate(tokens)
            if token.level == 0 and token.nesting != -1 and token.map is not None
        ]
        if not blocks:
            return None
        last = tokens[blocks[-1]]
        assert last.map is not None
        self._quiet = _quiet_lines(last, source)
        start = _line_offset(source, last.map[0])
        # The next scan of a list or blockquote starts at its last item/child: the lines after
        # it parse the same from there, and rescanning a long list whole on every line would be
        # quadratic.
        children = [
            token.map[0]
            for token in tokens[blocks[-1] + 1 :]
            if token.level == 1 and token.nesting != -1 and token.map is not None
        ]
        if last.type in _CONTAINERS and children:
            self._restart = restart + _line_offset(source, children[-1] - last.map[0], start)
        else:
            self._restart = restart + start
        if len(blocks) < 2:
            return None
        cut = restart + start
        return self._emit(tail[:cut], tail[cut:])

    def _emit(self, source: str, rest: str) -> tuple[str, int]:
        html = _render(source, self._env)
        self._rendered_text.append(source)
        self._html.append(html)
        self._n += len(source)
        self._scanned -= len(source)
        self._restart -= len(source)
        self._tail = rest
        return html, self._n

    def preview(self) -> str:
        """All the text as HTML, the unfinished tail rendered too, without finishing it.

        Only the tail is rendered: the finished blocks' HTML is reused.
        """
        rest = self._tail + "".join(self._pending)
        return self.html + (_render(rest, self._env) if rest else "")

    def finish(self) -> tuple[str, int] | None:
        """Render all that is left (the last block); None if nothing is."""
        rest = self._tail + "".join(self._pending)
        self._pending = []
        if not rest:
            return None
        self._scanned = self._restart = len(rest)
        self._quiet = None
        return self._emit(rest, "")
