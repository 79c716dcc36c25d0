"""TeX math in a model's markdown (`$…$` inline, `$$…$$` display) as MathML, on the server.

Why MathML rendered here: Chromium, Firefox and Safari draw MathML Core themselves, so the page
needs no script, font or CDN for math and the strict CSP holds. latex2mathml converts;
mdit-py-plugins' `dollarmath` finds the delimiters.

Only the inline rules are used. `$$…$$` is display math wherever it stands, even on lines of its
own (a paragraph of its own then): the block rule would let a later `$$` line turn earlier
lines, already streamed as a paragraph, into a math block, and BlockStreamer relies on a
finished block never changing (render.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from latex2mathml.converter import convert
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

__all__ = ["MATHML_ATTRIBUTES", "MATHML_TAGS", "math_plugin", "to_mathml"]

# Longer TeX is shown as its source: conversion cost must stay small whatever a model sends.
MAX_TEX_CHARS = 4000

# MathML Core's presentation elements: what latex2mathml writes.
MATHML_TAGS = frozenset(
    {
        *("math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace"),
        *("mfrac", "msqrt", "mroot", "msub", "msup", "msubsup", "munder", "mover", "munderover"),
        *("mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom", "menclose", "merror"),
        "mfenced",
    }
)
# Layout attributes only. Never `href` (a link on any MathML element in some browsers) and never
# `style` (the CSP refuses inline styles anyway).
_LAYOUT = frozenset(
    {
        *("display", "displaystyle", "scriptlevel", "mathvariant", "mathsize", "dir"),
        *("stretchy", "fence", "separator", "form", "lspace", "rspace", "largeop", "symmetric"),
        *("movablelimits", "accent", "accentunder", "minsize", "maxsize", "linethickness"),
        *("width", "height", "depth", "voffset", "notation", "open", "close", "separators"),
        *("columnalign", "rowalign", "columnlines", "rowlines", "columnspacing", "rowspacing"),
        *("frame", "framespacing", "equalrows", "equalcolumns", "columnspan", "rowspan"),
        "encoding",
    }
)
MATHML_ATTRIBUTES: dict[str, set[str]] = {tag: set(_LAYOUT) for tag in MATHML_TAGS}


def to_mathml(tex: str, *, display: bool) -> str:
    """TeX as a `<math>` element; TeX that cannot be converted stays visible as its source."""
    tex = tex.strip()
    if len(tex) <= MAX_TEX_CHARS:
        try:
            mathml: str = convert(tex, display="block" if display else "inline")
        # Any failure (unknown command, unbalanced braces, nesting deep enough to exhaust the
        # recursion limit: RecursionError is an Exception) must leave the reply readable.
        except Exception:
            pass
        else:
            return mathml
    kind = "math-source math-source--display" if display else "math-source"
    return f'<code class="{kind}">{escapeHtml(tex)}</code>'


def _inline(_self: Any, tokens: Sequence[Token], idx: int, _options: Any, _env: Any) -> str:
    return to_mathml(tokens[idx].content, display=False)


def _display(_self: Any, tokens: Sequence[Token], idx: int, _options: Any, _env: Any) -> str:
    return to_mathml(tokens[idx].content, display=True)


def math_plugin(md: MarkdownIt) -> None:
    """`$…$` and `$$…$$` as MathML. Strict about dollars, so prices stay text: no digit right
    inside (`$5 and $10`), no space right inside (`$ 5`)."""
    dollarmath_plugin(
        md,
        allow_labels=False,
        allow_space=False,
        allow_digits=False,
        allow_blank_lines=False,
        double_inline=True,
    )
    md.block.ruler.disable("math_block")
    md.add_render_rule("math_inline", _inline)
    md.add_render_rule("math_inline_double", _display)
