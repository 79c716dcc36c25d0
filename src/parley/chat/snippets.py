"""Search result snippets: a window of a message around its first hit, with hits marked.

Built here rather than by the database (FTS5's snippet(), PostgreSQL's ts_headline) so that
both databases give the same snippets and the HTML is Parley's own: every character of the
stored text is escaped, and the only markup added is `<mark>`.
"""

from __future__ import annotations

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


def _matcher(terms: list[Term]) -> tuple[set[str], tuple[str, ...]]:
    exact: set[str] = set()
    prefixes: list[str] = []
    for term in terms:
        *whole, last = (fold(w) for w in term.words)
        exact.update(whole)
        if term.prefix:
            prefixes.append(last)
        else:
            exact.add(last)
    return exact, tuple(prefixes)


def _hits(text: str, terms: list[Term]) -> list[tuple[int, int]]:
    exact, prefixes = _matcher(terms)
    found = []
    for match in _WORD.finditer(text, 0, min(len(text), _SCAN_CHARS)):
        word = fold(match.group())
        if word in exact or (prefixes and word.startswith(prefixes)):
            found.append(match.span())
    return found


def _escape(text: str) -> str:
    return html.escape(_SPACE.sub(" ", text), quote=False)


def highlight(text: str, terms: list[Term], width: int = 200) -> str:
    """`text` (or the part of it around its first hit, `width` characters) as safe HTML."""
    hits = _hits(text, terms)
    start = 0
    if hits and hits[0][0] > _BEFORE:
        start = hits[0][0] - _BEFORE
        space = text.find(" ", start, hits[0][0])
        start = space + 1 if space != -1 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", max(start, end - 20), end)
        end = space if space > start else end
    out = ["…"] if start > 0 else []
    position = start
    for hit_start, hit_end in hits:
        if hit_start < start:
            continue
        if hit_end > end:
            break
        out.append(_escape(text[position:hit_start]))
        out.append(f"<mark>{_escape(text[hit_start:hit_end])}</mark>")
        position = hit_end
    out.append(_escape(text[position:end]))
    if end < len(text):
        out.append("…")
    return "".join(out).strip()
