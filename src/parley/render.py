"""Turning a model's markdown into safe HTML, whole or block by block while it streams.

Owns the markdown dialect (CommonMark plus GFM tables and strikethrough, and TeX math as MathML
through mathml.py), code highlighting (Pygments, CSS classes only), the HTML sanitizer policy,
and `BlockStreamer`, which renders each finished top-level block of a streamed text part exactly
once (see docs/protocol.md, `block`).
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

from .mathml import MATHML_ATTRIBUTES, MATHML_TAGS, math_plugin

__all__ = ["BlockStreamer", "highlight_css", "render_markdown", "sanitize"]

# Pygments classes only, no inline styles: the page's stylesheet (highlight_css) colours them.
_FORMATTER = HtmlFormatter(nowrap=True)

# markdown-it's own idea of a line ending; line numbers in token maps count these.
_NEWLINE = re.compile(r"\r\n?|\n")


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
    math_plugin(md)
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
        *MATHML_TAGS,
    },
    attributes={
        **MATHML_ATTRIBUTES,
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


def _style_defs(style: str, scopes: list[str]) -> str:
    formatter = HtmlFormatter(style=style)
    prefixes = [f"{scope} .md .highlight" for scope in scopes]
    lines: list[str] = formatter.get_background_style_defs(prefixes)
    lines += formatter.get_token_style_defs(prefixes)
    return "\n".join(lines)


@functools.cache
def highlight_css() -> str:
    """The stylesheet for highlighted code, scoped under `.md`; a light and a dark theme.

    The page follows the system's theme unless the user chose one (`<html data-theme>`,
    theme.js). Exactly one of the two rule sets matches in every case: a token the dark theme
    leaves uncoloured must not keep the light theme's colour.
    """
    light = _style_defs("default", [':root[data-theme="light"]'])
    dark = _style_defs("github-dark", [':root[data-theme="dark"]'])
    system_light = _style_defs("default", [":root:not([data-theme])"])
    system_dark = _style_defs("github-dark", [":root:not([data-theme])"])
    return (
        f"{light}\n{dark}\n"
        f"@media not all and (prefers-color-scheme: dark) {{\n{system_light}\n}}\n"
        f"@media (prefers-color-scheme: dark) {{\n{system_dark}\n}}\n"
    )


# --- streaming ----------------------------------------------------------------------------
#
# Why this shape: BlockStreamer must know, after every complete line, whether a new top-level
# block has started (the block before it is then finished and can be emitted). Only a parse
# knows for sure, and parsing the open block again on every line is quadratic in its length: a
# reply that is one long quote, list or code block re-parsed itself thousands of times. So:
#
# - A parse (`_SCANNER.parse`, block rules only) still makes every decision that matters: where
#   blocks start, hence where the text is cut. Nothing below can change the emitted HTML.
# - Between parses, a small state machine (`_Open`) steps through each new line and certifies
#   "this line starts no new top-level block", from the kind of the last top-level block and the
#   line's own first characters: a blockquote goes on through lines starting with ">", a list
#   through lines indented to its last item's content and through sibling items, a paragraph
#   through lines that cannot interrupt one, and so on. These are the loop conditions of
#   markdown-it's own block rules at the top level, where they depend on nothing but the line
#   (and, for lists, the last item's first line). Whatever it cannot certify (a lazy
#   continuation line, a line that might start a block) falls back to a parse. A wrong "starts
#   nothing" would only delay an emission, never change one, and the tests check there is none.
# - A parse starts at the last top-level block, or inside a list or blockquote at its last item
#   or child: from there the lines after parse the same as in the whole text. (Not at a quote's
#   child on a line indented 4 or more: first in a text, that line would be code.)
# - A budget bounds the parsing whatever the markdown: a parse runs only while the characters
#   parsed so far stay within _SCAN_BUDGET times the characters received (plus an allowance),
#   otherwise it waits for more text. Parses an input forces (a long list of lazy lines, say)
#   then come at geometrically growing sizes, so the total stays linear; the price is that such
#   input has its finished blocks emitted late (by the next affordable parse or finish()), with
#   the same HTML. Ordinary replies parse each character once or twice and never wait.

# Characters parsed per character received. Ordinary replies need under 2 (bench/render.py).
_SCAN_BUDGET = 4
# Characters parsed free of the budget: a short reply stays prompt whatever it forces.
_SCAN_ALLOWANCE = 20_000

_CONTAINERS = ("bullet_list_open", "ordered_list_open", "blockquote_open")

_LEAD = re.compile(r"[ \t]*")
# What can interrupt a paragraph at the top level, matched after the line's indentation (under
# 4 columns): an ATX heading, a fence, a blockquote, a bullet item, an ordered item numbered 1
# (no other number can), and lines of -*_=|: only (a thematic break, a setext underline, a
# table's delimiter row turning the line above into a header). Raw HTML is off, so "<" starts
# nothing.
_PARAGRAPH_BREAK = re.compile(
    r"\#{1,6}(?:[ \t]|$)|```|~~~|>|[-+*](?:[ \t]|$)|0{0,8}1[.)](?:[ \t]|$)|[-*_=|:][-*_=|: \t]*$"
)
# What ends a table: the same blocks, any ordered item, and thematic breaks.
_TABLE_BREAK = re.compile(
    r"\#{1,6}(?:[ \t]|$)|```|~~~|>|[-+*](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|[-*_][-*_ \t]*$"
)
_BULLET_ITEM = re.compile(r"([-+*])(?:[ \t]|$)")
_ORDERED_ITEM = re.compile(r"\d{1,9}([.)])(?:[ \t]|$)")
_RULE = re.compile(r"[-*_][-*_ \t]*$")  # could be a thematic break (which ends a list)
# markdown-it ends a table once its rows would fill in more empty cells than this.
_MAX_FILLED_CELLS = 0x10000


def _line_offset(text: str, line: int, pos: int = 0) -> int:
    """The index in `text` where the `line`-th line (0-based) after index `pos` starts."""
    if line == 0:
        return pos
    match = next(itertools.islice(_NEWLINE.finditer(text, pos), line - 1, None))
    return match.end()


def _split(line: str) -> tuple[int, str]:
    """A line's indentation in columns (tabs to the next multiple of 4) and the rest of it."""
    match = _LEAD.match(line)
    assert match is not None
    lead = match.end()
    if "\t" not in line[:lead]:
        return lead, line[lead:]
    column = 0
    for ch in line[:lead]:
        column += 4 - column % 4 if ch == "\t" else 1
    return column, line[lead:]


def _item_indent(indent: int, rest: str, marker: int) -> tuple[int, bool]:
    """A list item's content indent, as markdown-it counts it, and whether its line is empty.

    `rest` is the item's line after its indentation `indent`, `marker` the marker's length.
    """
    initial = column = indent + marker
    pos = marker
    while pos < len(rest) and rest[pos] in " \t":
        column += 4 - column % 4 if rest[pos] == "\t" else 1
        pos += 1
    if pos == len(rest):
        return initial + 1, True
    after = column - initial
    return initial + (1 if after > 4 else after), False


class _Open:
    """The last top-level block as far as new lines are concerned (see "Why this shape")."""

    def step(self, indent: int, rest: str) -> _Open | None:
        """The state after one more line, or None if the line may start a new top-level block.

        `indent` and `rest` are the line's, from `_split`; `rest == ""` is a blank line.
        """
        raise NotImplementedError


class _Closed(_Open):
    """Nothing open (a heading, a closed fence, a paragraph after a blank line...)."""

    def step(self, indent: int, rest: str) -> _Open | None:
        return None if rest else self


class _Paragraph(_Open):
    def step(self, indent: int, rest: str) -> _Open | None:
        if not rest:
            return _CLOSED
        # Indented 4 or more, a line is a lazy continuation whatever it holds.
        return self if indent >= 4 or not _PARAGRAPH_BREAK.match(rest) else None


class _Table(_Open):
    def __init__(self, columns: int, rows: int) -> None:
        self.columns = columns
        self.rows = rows

    def step(self, indent: int, rest: str) -> _Open | None:
        if not rest:
            return _CLOSED
        if indent >= 4 or _TABLE_BREAK.match(rest) or not rest.strip():
            return None
        self.rows += 1
        return self if self.rows * self.columns <= _MAX_FILLED_CELLS else None


class _Fence(_Open):
    def __init__(self, markup: str) -> None:
        # The closing line: the opening's character, at least as many, then only spaces.
        self.closing = re.compile(rf"{re.escape(markup[0])}{{{len(markup)},}}[ \t]*$")

    def step(self, indent: int, rest: str) -> _Open | None:
        return _CLOSED if indent < 4 and self.closing.match(rest) else self


class _Code(_Open):
    """An indented code block: blank lines and lines indented 4 or more go on with it."""

    def step(self, indent: int, rest: str) -> _Open | None:
        return self if indent >= 4 or not rest else None


class _Blockquote(_Open):
    def step(self, indent: int, rest: str) -> _Open | None:
        if not rest:
            return _CLOSED
        return self if rest[0] == ">" else None


class _List(_Open):
    """A list whose last item's content is indented `width` columns.

    `fresh`: that item's first line is empty and the last line; `gap`: an empty first line and a
    blank line after it ended that item, and only a sibling item can go on with the list.
    """

    def __init__(self, marker: str, ordered: bool, width: int, fresh: bool, gap: bool) -> None:
        self.marker = marker
        self.ordered = ordered
        self.width = width
        self.fresh = fresh
        self.gap = gap

    def step(self, indent: int, rest: str) -> _Open | None:
        if self.gap:
            return self._item(indent, rest) if rest else _CLOSED
        if not rest:
            if self.fresh:
                return _List(self.marker, self.ordered, self.width, fresh=False, gap=True)
            return self
        if indent >= self.width:  # inside the last item, whatever it holds
            self.fresh = False
            return self
        return self._item(indent, rest)

    def _item(self, indent: int, rest: str) -> _Open | None:
        """A sibling item goes on with the list; anything else may end it or be lazy text."""
        if indent >= 4 or _RULE.match(rest):
            return None
        match = (_ORDERED_ITEM if self.ordered else _BULLET_ITEM).match(rest)
        if match is None or match[1] != self.marker:
            return None
        width, empty = _item_indent(indent, rest, match.end(1))
        return _List(self.marker, self.ordered, width, fresh=empty, gap=False)


_CLOSED = _Closed()


def _open_block(
    tokens: list[Token], index: int, child: Token | None, lines: list[str]
) -> _Open | None:
    """The state after `lines`, whose last top-level block opens at `tokens[index]`.

    `child` is that block's last child (a list's last item). None when it is none of the kinds
    above, or when something other than blank lines follows it (reference definitions).
    """
    last = tokens[index]
    assert last.map is not None
    first, end = last.map
    if any(line.strip(" \t") for line in lines[end:]):
        return None
    kind = last.type
    if kind in ("heading_open", "hr"):
        return _CLOSED
    if kind == "code_block":
        return _Code()
    if kind == "fence":
        # A fence that has not closed has one line fewer (no closing line) than its map.
        is_open = last.content.count("\n") == end - first - 1
        return _Fence(last.markup) if is_open else _CLOSED
    # A blank last line has ended a paragraph, a table or a blockquote. (Not a map ending
    # before the last line: a blockquote's map takes in the blank lines after it.)
    if not lines[-1].strip(" \t") and kind in ("paragraph_open", "table_open", "blockquote_open"):
        return _CLOSED
    if kind == "paragraph_open":
        return _Paragraph()
    if kind == "blockquote_open":
        return _Blockquote()
    if kind == "table_open":
        head = itertools.takewhile(lambda token: token.type != "thead_close", tokens[index:])
        return _Table(sum(token.type == "th_open" for token in head), end - first - 2)
    if kind in ("bullet_list_open", "ordered_list_open") and child is not None:
        assert child.map is not None
        item = child.map[0]
        indent, rest = _split(lines[item])
        ordered = kind == "ordered_list_open"
        match = (_ORDERED_ITEM if ordered else _BULLET_ITEM).match(rest)
        if match is None:
            return None
        width, empty = _item_indent(indent, rest, match.end(1))
        after = len(lines) - item - 1
        # A last line less indented than the item is lazy paragraph text, and the next line
        # can still make it a table's header, which ends the list: leave that to a parse.
        if after and lines[-1].strip(" \t") and _split(lines[-1])[0] < width:
            return None
        if empty and after and not lines[item + 1].strip(" \t"):
            if after > 1:  # a second blank line: the list is over
                return _CLOSED
            return _List(last.markup, ordered, width, fresh=False, gap=True)
        return _List(last.markup, ordered, width, fresh=empty and not after, gap=False)
    return None


class BlockStreamer:
    """Renders one streamed text part: each finished top-level block once, the tail at the end.

    A block is finished once a later top-level block has started on a complete line: markdown's
    block structure is decided line by line, so nothing after that can change it (except
    reference definitions that appear later). Cuts fall at the start of a line, so the rendered
    chunks concatenate to the render of the whole text. A finished block is emitted by the
    `feed` that completes the first line of the next block, except in input that exhausts the
    parse budget (see "Why this shape" above), where it may come with a later feed.
    """

    def __init__(self) -> None:
        self._rendered_text: list[str] = []
        self._html: list[str] = []
        self._n = 0
        # The unrendered text, text[n:], in four consecutive pieces: the open block's lines
        # before the point where the next parse starts, the lines from there up to the last
        # parse, complete lines since then, and the unfinished last line.
        self._head: list[str] = []
        self._open = ""
        self._unparsed: list[str] = []
        self._unparsed_chars = 0
        self._partial: list[str] = []
        self._state: _Open | None = _CLOSED  # None: the next complete line needs a parse
        self._cr = False  # the complete lines end with "\r", so a leading "\n" ends no line
        self._received = 0  # characters of complete lines received
        # Characters given to the block scanner: the cost the budget bounds, exposed for tests.
        self.scanned_chars = 0
        # Shared across chunks so a reference definition resolves in the blocks after it.
        self._env: dict[str, Any] = {}

    def _rest(self) -> str:
        return "".join(self._head) + self._open + "".join(self._unparsed + self._partial)

    @property
    def text(self) -> str:
        return "".join(self._rendered_text) + self._rest()

    @property
    def html(self) -> str:
        return "".join(self._html)

    def feed(self, delta: str) -> tuple[str, int] | None:
        """Append a delta; return (html of newly finished blocks, n) if any finished."""
        # Hot path: a block can only finish at a line boundary, so without a newline in the
        # delta there is nothing to decide and the delta is not even concatenated.
        if "\n" not in delta and "\r" not in delta:
            self._partial.append(delta)
            return None
        # Only complete lines: a partial line can still change what it is ("#" is a heading,
        # "#tag" continues the paragraph above it).
        end = max(delta.rfind("\n"), delta.rfind("\r")) + 1
        self._partial.append(delta[:end])
        complete = "".join(self._partial)
        self._partial = [delta[end:]] if end < len(delta) else []
        self._received += len(complete)
        self._unparsed.append(complete)
        self._unparsed_chars += len(complete)
        state = self._state
        if state is not None:
            lines = _NEWLINE.split(complete)
            lines.pop()  # the "" after the last line ending
            if self._cr and complete.startswith("\n"):
                lines.pop(0)  # the "\n" of a "\r\n" split between deltas
            for line in lines:
                state = state.step(*_split(line))
                if state is None:
                    break
        self._cr = complete.endswith("\r")
        self._state = state
        return None if state is not None else self._scan()

    def _scan(self) -> tuple[str, int] | None:
        size = len(self._open) + self._unparsed_chars
        if self.scanned_chars + size > _SCAN_BUDGET * self._received + _SCAN_ALLOWANCE:
            return None  # over budget: parse once more text has come (self._state is None)
        source = self._open + "".join(self._unparsed)
        self._unparsed = []
        self._unparsed_chars = 0
        self.scanned_chars += len(source)
        tokens = _SCANNER.parse(source)
        blocks = [
            i
            for i, token in enumerate(tokens)
            if token.level == 0 and token.nesting != -1 and token.map is not None
        ]
        if not blocks:  # blank lines, reference definitions
            self._open = source
            self._state = None if source.strip(" \t\r\n") else _CLOSED
            return None
        last = tokens[blocks[-1]]
        assert last.map is not None
        start = _line_offset(source, last.map[0])
        # The next parse of a list or blockquote starts at its last item/child: the lines after
        # it parse the same from there, and parsing a long list whole every time would be
        # quadratic.
        child = next(
            (
                token
                for token in reversed(tokens[blocks[-1] + 1 :])
                if token.level == 1 and token.nesting != -1 and token.map is not None
            ),
            None,
        )
        lines = _NEWLINE.split(source)
        lines.pop()
        restart = start
        # Not at a quote's child on a line indented 4 or more: first in a text, that is code.
        if (
            last.type in _CONTAINERS
            and child is not None
            and child.map is not None
            and _split(lines[child.map[0]])[0] < 4
        ):
            restart = _line_offset(source, child.map[0] - last.map[0], start)
        self._state = _open_block(tokens, blocks[-1], child, lines)
        self._open = source[restart:]
        if len(blocks) < 2:
            self._head.append(source[:restart])
            return None
        finished = "".join(self._head) + source[:start]
        self._head = [source[start:restart]]
        return self._emit(finished)

    def _emit(self, source: str) -> tuple[str, int]:
        html = _render(source, self._env)
        self._rendered_text.append(source)
        self._html.append(html)
        self._n += len(source)
        return html, self._n

    def preview(self) -> str:
        """All the text as HTML, the unfinished tail rendered too, without finishing it.

        Only the tail is rendered: the finished blocks' HTML is reused.
        """
        rest = self._rest()
        return self.html + (_render(rest, self._env) if rest else "")

    def finish(self) -> tuple[str, int] | None:
        """Render all that is left (the last block); None if nothing is."""
        rest = self._rest()
        self._head, self._open, self._unparsed, self._partial = [], "", [], []
        self._unparsed_chars = 0
        self._state = _CLOSED
        if not rest:
            return None
        return self._emit(rest)


def sanitize(html: str) -> str:
    """HTML from outside Parley (an imported reply's rendered text) through the same allowlist
    as what Parley renders: an archive is a file anyone can write."""
    return _SANITIZER.clean(html)
