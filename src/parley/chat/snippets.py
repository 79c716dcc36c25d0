"""Search result snippets: a window of a message around its first hit, with hits marked.

Built here rather than by the database (FTS5's snippet(), PostgreSQL's ts_headline) so that
both databases give the same snippets and the HTML is Parley's own: every character of the
stored text is escaped, and the only markup added is `<mark>`.
"""

from __future__ import annotations

import functools
import html
import re

from .query import Term, fold

# A hit further in than this is not looked for: the snippet then shows the beginning. Bounds
# the work per hit whatever the message's size.
_SCAN_CHARS = 20_000
_BEFORE = 60
_WORD = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s+")
# Markdown syntax a reader of a one-line snippet would see as noise: links keep their text.
_MARKDOWN = [
    (re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),
    (re.compile(r"^[ \t]{0,3}(?:#{1,6}|>|[-*+]|\d{1,9}[.)])[ \t]+", re.MULTILINE), ""),
    (re.compile(r"`+|\*\*|__|~~"), ""),
]


def plain(markdown: str) -> str:
    """A reply's markdown as the text a reader sees: no emphasis marks, list bullets or
    heading hashes (a snippet is one line of text, not rendered markdown)."""
    for pattern, replacement in _MARKDOWN:
        markdown = pattern.sub(replacement, markdown)
    return markdown


@functools.lru_cache(maxsize=256)
def _matcher(terms: tuple[Term, ...]) -> tuple[frozenset[str], tuple[str, ...], re.Pattern[str]]:
    """The folded words to mark, the folded prefixes, and one regular expression for both
    (for ASCII text: one pass in C, where folding each word in Python costs far more)."""
    exact: set[str] = set()
    prefixes: list[str] = []
    for term in terms:
        *whole, last = (fold(w) for w in term.words)
        exact.update(whole)
        if term.prefix:
            prefixes.append(last)
        else:
            exact.add(last)
    words = [re.escape(w) + r"(?![^\W_])" for w in sorted(exact, key=len, reverse=True)]
    words += [re.escape(p) + r"[^\W_]*" for p in prefixes]
    pattern = re.compile(r"(?<![^\W_])(?:" + "|".join(words) + ")", re.IGNORECASE)
    return frozenset(exact), tuple(prefixes), pattern


def _hits(text: str, terms: tuple[Term, ...], end: int, first: bool) -> list[tuple[int, int]]:
    """Where the terms are in `text[:end]`: all of them, or only the `first`."""
    exact, prefixes, pattern = _matcher(terms)
    end = min(len(text), end)
    if text.isascii():
        if first:
            found = pattern.search(text, 0, end)
            return [found.span()] if found else []
        return [m.span() for m in pattern.finditer(text, 0, end)]
    # Other text: word by word, folded as the index folded it (case and accents), so "café"
    # is marked for "cafe".
    spans = []
    for match in _WORD.finditer(text, 0, end):
        word = _fold_cached(match.group())
        if word in exact or (prefixes and word.startswith(prefixes)):
            spans.append(match.span())
            if first:
                break
    return spans


@functools.lru_cache(maxsize=65_536)
def _fold_cached(word: str) -> str:
    return fold(word)


def _escape(text: str) -> str:
    return html.escape(_SPACE.sub(" ", text), quote=False)


def highlight(text: str, terms: list[Term], width: int = 200, *, markdown: bool = False) -> str:
    """The part of `text` around its first hit (`width` characters), as safe HTML with the
    hits marked. `markdown`: the text is a reply's markdown, shown without its marks."""
    key = tuple(terms)
    first = _hits(text, key, _SCAN_CHARS, first=True)
    start = 0
    if first and first[0][0] > _BEFORE:
        start = first[0][0] - _BEFORE
        space = text.find(" ", start, first[0][0])
        start = space + 1 if space != -1 else start
    # Markdown marks are removed from the window only (bounded work), so it is cut a little
    # wider first.
    window = text[start : start + width + (40 if markdown else 0)]
    more = start + len(window) < len(text)
    if markdown:
        window = plain(window)
    if len(window) > width:
        space = window.rfind(" ", width - 20, width)
        window, more = window[: space if space > 0 else width], True
    out = ["…"] if start > 0 else []
    position = 0
    for hit_start, hit_end in _hits(window, key, len(window), first=False):
        out.append(_escape(window[position:hit_start]))
        out.append(f"<mark>{_escape(window[hit_start:hit_end])}</mark>")
        position = hit_end
    out.append(_escape(window[position:]))
    if more:
        out.append("…")
    return "".join(out).strip()
