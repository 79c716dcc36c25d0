import random
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from parley import render
from parley.mathml import MATHML_ATTRIBUTES, MATHML_TAGS
from parley.render import _SANITIZER, BlockStreamer, highlight_css, render_markdown

# --- rendering ---------------------------------------------------------------------------


def test_headings_emphasis_and_strikethrough() -> None:
    html = render_markdown("# Title\n\n## Sub\n\nSome *em*, **strong** and ~~gone~~.\n")
    assert html == (
        "<h1>Title</h1>\n<h2>Sub</h2>\n"
        "<p>Some <em>em</em>, <strong>strong</strong> and <s>gone</s>.</p>\n"
    )


def test_setext_heading_and_hr() -> None:
    assert render_markdown("Title\n===\n\n---\n") == "<h1>Title</h1>\n<hr>\n"


def test_lists() -> None:
    assert render_markdown("- a\n- b\n") == "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"
    assert render_markdown("3. x\n4. y\n") == '<ol start="3">\n<li>x</li>\n<li>y</li>\n</ol>\n'


def test_table_alignment_becomes_class() -> None:
    html = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n")
    assert '<th class="align-left">a</th>' in html
    assert '<th class="align-center">b</th>' in html
    assert '<td class="align-right">3</td>' in html
    assert "style" not in html


def test_inline_and_display_math_become_mathml() -> None:
    html = render_markdown("Euler: $e^{i\\pi} + 1 = 0$.\n\n$$\n\\frac{a}{b}\n$$\n")
    assert '<math display="inline"><mrow><msup><mi>e</mi>' in html
    assert '<p><math display="block"><mrow><mfrac>' in html
    assert "$" not in html


def test_prices_and_lone_dollars_stay_text() -> None:
    html = render_markdown("It costs $5 and $10, or $ 3 $ at most.")
    assert "<math" not in html
    assert "$5 and $10" in html


def test_math_that_cannot_be_converted_shows_its_source() -> None:
    deep = "{" * 1500 + "x" + "}" * 1500  # past the recursion limit, or the length limit
    html = render_markdown(f"$$ {deep} $$ and ${'x' * 5000}$")
    assert html.count('<code class="math-source') == 2
    assert "<math" not in html


def test_math_keeps_layout_attributes_only() -> None:
    dirty = (
        '<math display="block" href="javascript:alert(1)">'
        '<mi style="x" mathvariant="bold">x</mi></math>'
    )
    assert _SANITIZER.clean(dirty) == '<math display="block"><mi mathvariant="bold">x</mi></math>'


def test_links_get_rel_and_keep_safe_urls() -> None:
    html = render_markdown('[a](https://example.com "T") [b](#x) [c](/p) [d](mailto:a@b.c)')
    rel = 'rel="noopener noreferrer nofollow"'
    assert f'<a href="https://example.com" title="T" {rel}>a</a>' in html
    assert f'<a href="#x" {rel}>b</a>' in html
    assert f'<a href="/p" {rel}>c</a>' in html
    assert f'<a href="mailto:a@b.c" {rel}>d</a>' in html


def test_inline_code_is_escaped() -> None:
    assert render_markdown("use `<b>` here") == "<p>use <code>&lt;b&gt;</code> here</p>\n"


def test_fenced_code_is_highlighted_with_classes() -> None:
    html = render_markdown("```python\ndef f():\n    return 1\n```\n")
    assert html.startswith('<pre class="highlight"><code class="language-python">')
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">f</span>' in html
    assert "style=" not in html


@pytest.mark.parametrize("info", ["", "no-such-language", "{weird}", '"><x'])
def test_fence_with_unknown_or_missing_language_is_plain(info: str) -> None:
    html = render_markdown(f"```{info}\n<b>&\n```\n")
    assert html.endswith(">&lt;b&gt;&amp;\n</code></pre>\n")
    assert "<span" not in html
    assert "<x" not in html


def test_fence_info_words_after_the_language_are_ignored() -> None:
    html = render_markdown("```python3 title=x\npass\n```\n")
    assert html.startswith('<pre class="highlight"><code class="language-python3">')


def test_raw_html_is_shown_as_text() -> None:
    html = render_markdown("<b>bold</b>\n\n<div onclick='x()'>hi</div>\n")
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;div onclick='x()'&gt;hi&lt;/div&gt;" in html
    assert "<b>" not in html
    assert "<div" not in html


def test_highlight_css_is_scoped_and_themed() -> None:
    css = highlight_css()
    assert "prefers-color-scheme: dark" in css
    rules = [line for line in css.splitlines() if "{" in line and not line.startswith("@")]
    assert rules
    # Every rule is scoped under `.md .highlight`, behind one of the theme selectors: the
    # user's choice (`data-theme`) or, without one, the system's (inside the media queries).
    scopes = (':root[data-theme="light"] .md .highlight', ':root[data-theme="dark"] .md .highlight')
    system = ":root:not([data-theme]) .md .highlight"
    assert all(line.startswith((*scopes, system)) for line in rules)
    for scope in scopes:
        assert f"{scope} .k " in css
    light, dark = css.split("@media", 1)[1].split("@media")
    assert "not all and (prefers-color-scheme: dark)" in light
    assert f"{system} .k " in light and f"{system} .k " in dark


# --- sanitizing --------------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=javascript:alert(1)></iframe>",
    '<a href="javascript:alert(1)">x</a>',
    "<a href='jav&#x09;ascript:alert(1)'>x</a>",
    "<body onload=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)//",
    '"><script>alert(1)</script>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](javascript&#x3A;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java%0ascript:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](<javascript:alert(1)>)",
    "[x](java\tscript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](VBSCRIPT:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](DATA:text/html,<script>alert(1)</script>)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    '![x](x" onerror="alert(1))',
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<vbscript:msgbox(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "[x]\n\n[x]: javascript:alert(1)",
    '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
    '[x](https://ok.example/" onclick="alert(1))',
    "```\n</code></pre><script>alert(1)</script>\n```",
    "```html\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
    "<!-- --><script>alert(1)</script>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<object data=javascript:alert(1)></object>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;:alert(1)">x</a>',
    "[x](\x01javascript:alert(1))",
]

_DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")


def _browser_scheme(url: str) -> str:
    """What a browser would see as the start of the URL (WHATWG URL parser whitespace rules)."""
    url = url.strip("".join(chr(c) for c in range(0x21)))
    return re.sub(r"[\t\n\r]", "", url).lower()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


_ALLOWED_TAGS = {
    *("p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code"),
    *("span", "em", "strong", "del", "s", "a", "img", "table", "thead", "tbody", "tr", "th"),
    *("td", "hr", "br"),
    *MATHML_TAGS,  # layout attributes only, checked below
}
_MATH_ATTRIBUTES = set().union(*MATHML_ATTRIBUTES.values())


def _assert_safe(html: str) -> None:
    assert "<script" not in html.lower()
    parser = _Tags()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in _ALLOWED_TAGS, html
        for name, value in attrs:
            assert not name.startswith("on"), html
            allowed = {"href", "title", "src", "alt", "class", "start", "rel"}
            if tag in MATHML_TAGS:
                allowed = _MATH_ATTRIBUTES
            assert name in allowed, html
            if name in ("href", "src"):
                assert value is not None
                assert not _browser_scheme(value).startswith(_DANGEROUS_SCHEMES), html
    # Also textually, in case the parser above is laxer than a browser: no event-handler
    # attribute in any tag once quoted values (which cannot hold a raw quote) are removed.
    for tag_text in re.findall(r"<[^>]*>", html):
        assert not re.search(r"\son\w+\s*=", re.sub(r'"[^"]*"', '""', tag_text)), html


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_is_neutralised(payload: str) -> None:
    _assert_safe(render_markdown(payload))
    _assert_safe(render_markdown(f"- item\n\n  > {payload}\n"))
    _assert_safe(render_markdown(f"| h |\n|---|\n| {payload} |\n"))


@pytest.mark.parametrize("payload", [p for p in XSS_PAYLOADS if p.startswith(("<", '"'))])
def test_sanitizer_alone_neutralises_raw_html(payload: str) -> None:
    # markdown-it escapes raw HTML before the sanitizer sees it; this checks the second layer
    # on its own, as if a renderer bug let the markup through.
    _assert_safe(_SANITIZER.clean(payload))


def test_xss_corpus_is_large() -> None:
    assert len(XSS_PAYLOADS) >= 25


def test_unsafe_links_lose_their_url_but_keep_text() -> None:
    assert "href" not in render_markdown("[x](javascript:alert(1))").replace("&lt;", "")
    html = render_markdown("![pic](data:image/png;base64,iVBORw0KGgo=)")
    assert html == '<p><img alt="pic"></p>\n'


# --- streaming ---------------------------------------------------------------------------

DOCUMENTS = [
    "",
    "just one line",
    "Hello **world**.\n\nSecond paragraph\nwith two lines.\n",
    "# Title\nText right after.\n## Sub\n\n- a\n- b\n\n  still b\n- c\n\nafter list\n",
    "Setext heading\n===\n\nAnother\n---\n\ntext\n",
    "para\n---\nmore para\n",
    "1. one\n2. two\n\n\n3. three\n\nnot list\n",
    "> quote\nlazy line\n> more\n\n> second quote\n\nout\n",
    "```python\ndef f(x):\n    return x\n```\nafter fence\n\n~~~\nraw <b>\n~~~\n",
    "intro\n```js\nlet a = 1;\n\n\nlet b = 2;\n```\n",
    "text\n\n```\nunclosed fence\n\n# not a heading\n",
    "| a | b |\n|---|:-:|\n| 1 | 2 |\n| 3 | 4 |\n\nafter table\n",
    "intro line\n| a | b |\n|---|---|\n| 1 | 2 |\ntrailing row?\n\nend\n",
    "    indented code\n\n    more code\n\npara\n\n    code again\n",
    "* * *\n\n***\n___\ntext\n- - -\n",
    "- nested\n  - deeper\n    - deepest\n- back\n\n      code in list\n\ndone\n",
    "# h1\n# h2\n# h3\n",
    "line one  \nline two\\\nline three\n",
    "Windows\r\nlines\r\n\r\n# head\r\n\r\n- x\r\n- y\r\n",
    "old mac\rlines\r\rpara\r",
    "trailing blanks\n\n\n\n",
    "\n\n\nleading blanks\n",
    "#hashtag\n#not heading\n# heading\n",
    "[ref] link\n\n[ref]: https://example.com\n\nuse [ref]\n",
    "> ```\n> code in quote\n> ```\n\n```\n````\nfence\n```\n",
    "a <b>raw</b> &amp; &copy; `x`\n\n<div>\nblock html\n</div>\n",
    "- [ ] task\n- [x] done\n\n1) paren\n2) list\n",
    "| a |\n|---|\n| 1 |\n# heading\n| b |\n|---|\n> quote\n| c |\n|---|\n- list\n",
    "| a |\n|---|\n| 1 |\n```\ncode\n```\n| b |\n|---|\n***\n",
    "para\n# h\npara\n> q\npara\n- l\n\npara\n```\nc\n```\npara\n***\npara\n1. x\n",
]


def _stream(text: str, sizes: list[int]) -> list[tuple[str, int]]:
    streamer = BlockStreamer()
    out: list[tuple[str, int]] = []
    pos = 0
    for size in sizes:
        delta = text[pos : pos + size]
        pos += size
        result = streamer.feed(delta)
        if "\n" in delta or "\r" in delta:  # otherwise the complete lines did not change
            _assert_tail_unfinished(streamer, result, out)
        else:
            assert result is None
        if result is not None:
            out.append(result)
    assert pos >= len(text)
    final = streamer.finish()
    if final is not None:
        out.append(final)
    assert streamer.finish() is None
    assert streamer.text == text
    assert streamer.html == "".join(html for html, _ in out)
    return out


# Blocks only (faster), in the renderer's dialect: raw HTML off, so "<div>" starts no block.
_BLOCKS = MarkdownIt("commonmark", {"html": False}).enable(["table"]).disable("inline")


def _assert_tail_unfinished(
    streamer: BlockStreamer, result: tuple[str, int] | None, out: list[tuple[str, int]]
) -> None:
    text = streamer.text
    n = result[1] if result else (out[-1][1] if out else 0)
    if n:
        assert text[n - 1] in "\r\n", "cuts fall at line starts"
    tail = text[n:]
    complete = tail[: max(tail.rfind("\n"), tail.rfind("\r")) + 1]
    starts = [t for t in _BLOCKS.parse(complete) if t.level == 0 and t.nesting != -1 and t.map]
    assert len(starts) <= 1, f"finished block left in tail {tail!r}"


def _random_sizes(rng: random.Random, total: int, low: int, high: int) -> list[int]:
    """Delta lengths (0 means an empty delta) that add up to at least `total`."""
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(rng.randint(low, high))
    return sizes


def _check(text: str, sizes: list[int]) -> None:
    out = _stream(text, sizes)
    assert "".join(html for html, _ in out) == render_markdown(text)
    ns = [n for _, n in out]
    assert ns == sorted(set(ns)), "n strictly increases"
    assert (ns[-1] if ns else 0) == len(text)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_stream_in_one_delta(text: str) -> None:
    _check(text, [len(text)])


@pytest.mark.parametrize("text", DOCUMENTS)
def test_stream_char_by_char(text: str) -> None:
    _check(text, [1] * len(text))


@pytest.mark.parametrize("text", DOCUMENTS)
def test_stream_random_chunks(text: str) -> None:
    rng = random.Random(1234)
    for _ in range(20):
        _check(text, _random_sizes(rng, len(text), 0, 12))


def test_stream_random_documents() -> None:
    # Random concatenations of block fragments, with and without blank lines between them.
    fragments = [
        "para text",
        "two line\nparagraph",
        "# heading",
        "Setext\n---",
        "- a\n- b",
        "- loose\n\n- list",
        "1. one\n1. two",
        "> quote\n> more",
        "```py\nx = 1\n```",
        "~~~\n~~~",
        "```\nunclosed",
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "    code",
        "***",
        "---",
        "===",
        "text with `code` and *em*",
        "",
        "para\nwith letters\n    and lazy lines",
        "para\n| x | y |\n|---|---|\n| 1 | 2 |",
        "| a |\n|---|\n| 1 |\nrow without pipe\n    indented",
        "Title\nline two\n===",
        "- a\n  lazy\ncontinuation\n- b\n\n  * nested",
        "> q\nlazy\n> - item\n>   more",
        "````\n```\nstill code\n````",
        "2023 started\n1. a list interrupts",
        "#tag\n# real",
        "[ref]: /url\n[ref]",
    ]
    rng = random.Random(42)
    for _ in range(300):
        parts = [rng.choice(fragments) for _ in range(rng.randint(1, 6))]
        text = "".join(part + rng.choice(["\n", "\n\n", "\n\n\n"]) for part in parts)
        if rng.random() < 0.3:
            text = text.rstrip("\n")
        _check(text, _random_sizes(rng, len(text), 1, 8))


def test_stream_long_blocks() -> None:
    # Long blocks take the streamer's shortcuts (rescans skipped or started at the last item).
    rows = "".join(f"| {i} | row {i} |\n" for i in range(150))
    items = "".join(f"- item {i}\n\n  more {i}\n" for i in range(100))
    lines = "".join(f"line {i} of a paragraph\n" for i in range(150))
    code = "".join(f"x_{i} = {i}\n" for i in range(150))
    quote = "".join(f"> quoted {i}\n>\n" for i in range(100))
    text = f"| a | b |\n|---|---|\n{rows}\n{items}\n{lines}\n```py\n{code}```\n{quote}\nend\n"
    rng = random.Random(7)
    out = _stream(text, _random_sizes(rng, len(text), 1, 10))
    assert "".join(html for html, _ in out) == render_markdown(text)
    assert len(out) == 6  # table, list, paragraph, fence, quote, then "end" at finish


def test_block_is_emitted_once_the_next_block_starts() -> None:
    streamer = BlockStreamer()
    assert streamer.feed("# Tit") is None
    assert streamer.feed("le\n") is None  # the heading is still the last block
    assert streamer.feed("para") is None  # a partial line decides nothing
    assert streamer.feed("graph\n") == ("<h1>Title</h1>\n", 8)
    assert streamer.feed("more\n\n") is None
    assert streamer.feed("- item\n") == ("<p>paragraph\nmore</p>\n", 24)
    assert streamer.finish() == ("<ul>\n<li>item</li>\n</ul>\n", 31)


def test_partial_line_does_not_cut() -> None:
    # "#" alone would be an empty heading interrupting the paragraph; "#tag" is not.
    streamer = BlockStreamer()
    assert streamer.feed("para\n#") is None
    assert streamer.feed("tag\n") is None
    assert streamer.finish() == ("<p>para\n#tag</p>\n", 10)


def test_unclosed_fence_is_not_emitted_until_finish() -> None:
    streamer = BlockStreamer()
    assert streamer.feed("intro\n\n") is None
    assert streamer.feed("```python\n") == ("<p>intro</p>\n", 7)
    for line in ["x = 1\n", "\n", "# comment\n", "- not a list\n", "para\n\n", "| a |\n"]:
        assert streamer.feed(line) is None
    html, n = streamer.finish() or ("", 0)
    assert n == len(streamer.text)
    assert html.startswith('<pre class="highlight"><code class="language-python">')
    for tag in ("<h1", "<ul", "<table"):
        assert tag not in html
    assert html.endswith("</code></pre>\n")


def test_closed_fence_is_emitted_when_the_next_block_starts() -> None:
    streamer = BlockStreamer()
    assert streamer.feed("```\ncode\n") is None
    assert streamer.feed("```\n") is None
    assert streamer.feed("after\n") == ("<pre><code>code\n</code></pre>\n", 13)


def test_finish_covers_whitespace_tail() -> None:
    streamer = BlockStreamer()
    assert streamer.feed("a\n\nb\n") == ("<p>a</p>\n", 3)
    assert streamer.finish() == ("<p>b</p>\n", 5)
    empty = BlockStreamer()
    assert empty.finish() is None
    blank = BlockStreamer()
    assert blank.feed("\n\n") is None
    assert blank.finish() == ("", 2)


def test_streamed_chunks_are_sanitized() -> None:
    text = "[x](javascript:alert(1))\n\n<script>alert(1)</script>\n\n![y](data:a)\n\nend\n"
    for html, _ in _stream(text, [1] * len(text)):
        _assert_safe(html)


def test_reference_defined_before_use_resolves_across_chunks() -> None:
    text = "[r]: https://example.com\n\nintro\n\nsee [r]\n"
    out = _stream(text, [1] * len(text))
    assert "".join(html for html, _ in out) == render_markdown(text)
    assert 'href="https://example.com"' in out[-1][0]


def test_preview_renders_the_unfinished_tail_without_finishing() -> None:
    streamer = BlockStreamer()
    text = "# Title\n\nFirst paragraph.\n\n```python\nx = 1\n"
    streamer.feed(text)
    assert streamer.preview() == render_markdown(text)
    assert streamer.finish() is not None
    assert streamer.html == render_markdown(text)


# --- streaming cost ----------------------------------------------------------------------

# Long replies of one kind of markdown, line i of each. Most are one block from start to end,
# the case where re-parsing the open block on every line made streaming quadratic.
_ORDERED = ["{k}. step {i}\n", "{p}detail {i}\n", "{p}1. sub-step {i}\n", "{p}   more {i}\n"]
LONG_KINDS: dict[str, Callable[[int], str]] = {
    "paragraphs": lambda i: "\n" if i % 9 == 8 else f"Line {i} of a paragraph.\n",
    "blockquote": lambda i: f"> Quoted line {i}, one paragraph.\n",
    "quote, paragraphs": lambda i: ">\n" if i % 6 == 5 else f"> line {i}\n",
    "nested quote": lambda i: [f"> > deep {i}\n", f"> - point {i}\n", f">   more {i}\n"][i % 3],
    "bullet list": lambda i: (
        "- overview\n" if i == 0 else ["  - point {i}\n", "    more {i}\n", "\n"][i % 3]
    ).format(i=i),
    "bullet items": lambda i: f"- item {i}\n" if i % 2 else f"  continued {i}\n",
    "ordered list": lambda i: _ORDERED[0 if i % 40 == 0 else 1 + i % 3].format(
        i=i, k=i // 40 + 1, p=" " * len(f"{i // 40 + 1}. ")
    ),
    "indented code": lambda i: "\n" if i % 7 == 6 else f"    x_{i} = f({i})\n",
    "fenced code": lambda i: "````md\n" if i == 0 else ("```\n", f"x_{i} = 1\n")[i % 5 > 0],
    "table": lambda i: ("| a | b |\n", "|---|:-:|\n")[i] if i < 2 else f"| {i} | x{i} |\n",
    "digit lines": lambda i: f"{1900 + i} was a year, {i} things.\n",
    "< and * lines": lambda i: ["<span>{i}</span> text\n", "*em {i}*\n", "**b** {i}\n"][
        i % 3
    ].format(i=i),
    "mixed": lambda i: [
        f"## Part {i}\n",
        "\n",
        "Text with `code`.\n",
        "- a point\n",
        "  more\n",
        "\n",
        "> quote\n",
        "\n",
        "```py\n",
        "x = 1\n",
        "```\n",
        "| a |\n",
        "|---|\n",
        "| 1 |\n",
        "\n",
        "1. one\n",
        "2. two\n",
        "\n",
    ][i % 18],
}


def _long(kind: str, lines: int) -> list[str]:
    return [LONG_KINDS[kind](i) for i in range(lines)]


def _scanned(lines: list[str]) -> int:
    """Characters the block scanner parsed to stream `lines`, one line per delta."""
    streamer = BlockStreamer()
    out = [streamer.feed(line) for line in lines] + [streamer.finish()]
    assert "".join(b[0] for b in out if b) == render_markdown("".join(lines))
    return streamer.scanned_chars


@pytest.mark.parametrize("kind", LONG_KINDS)
def test_streaming_parses_in_linear_work(kind: str) -> None:
    small, large = _long(kind, 500), _long(kind, 1000)
    work_small, work_large = _scanned(small), _scanned(large)
    assert work_large <= 2.5 * work_small + 100  # + 100: a kind parsed once, at its start
    # Each character parsed about once: when its block ends, or not at all before finish().
    assert work_large <= 2 * len("".join(large))


@pytest.mark.parametrize("kind", LONG_KINDS)
def test_long_blocks_are_emitted_promptly(kind: str) -> None:
    # _stream checks after every line that no finished block waits in the tail.
    text = "".join(_long(kind, 120)) + "\nend\n"
    _check(text, [len(line) for line in text.splitlines(keepends=True)])


def test_scanned_chars_counts_every_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    scanner = render._SCANNER

    class Counting:
        def parse(self, src: str) -> Any:
            parsed.append(len(src))
            return scanner.parse(src)

    monkeypatch.setattr(render, "_SCANNER", Counting())
    lines = [line for kind in LONG_KINDS for line in [*_long(kind, 30), "\n\n"]]
    assert _scanned(lines) == sum(parsed) > 0


def test_lazy_lines_cost_linear_work_within_the_budget() -> None:
    # Lazy continuation lines (unmarked text going on with a quoted or listed paragraph): only a
    # parse can tell they start no block, so each asks for one, and the budget keeps the total
    # linear at the price of late emission.
    def lazy(n: int) -> list[str]:
        quote = [f"> quoted {i}\n" if i % 2 else f"lazy {i}\n" for i in range(n // 2)]
        items = [f"- item {i}\n" if i % 100 == 0 else f"lazy {i}\n" for i in range(n // 2)]
        return [*quote, "\n", *items]

    small, large = lazy(2000), lazy(4000)
    work_small, work_large = _scanned(small), _scanned(large)
    assert work_large <= 2.5 * work_small
    for lines, work in ((small, work_small), (large, work_large)):
        size = len("".join(lines))
        assert work <= render._SCAN_BUDGET * size + render._SCAN_ALLOWANCE


# Lines by the kind of block they tend to make; documents mix a few blocks of these kinds, each
# line drawn from its kind's pool or, now and then, from any pool.
_POOLS = {
    "paragraph": [
        "Plain text",
        "2024 was a year",
        "3 apples",
        "<div>tag</div>",
        "<br>",
        "*em* start",
        "**bold**",
        "a | b",
        "#tag",
        "2. no list",
        "1.5 litres",
        "    indented lazy",
        "\tlazy",
    ],
    "heading": ["# Title", "### Sub", "Setext", "===", "---", "***", "* * *", "___"],
    "quote": [
        "> quoted",
        ">",
        "> - item",
        ">   more",
        "> > nested",
        "lazy line",
        "> ```",
        "> 1. one",
        "  > indented",
        "    > code?",
    ],
    "bullet": [
        "- item",
        "* star",
        "+ plus",
        "  continued",
        "  - nested",
        "    - deeper",
        "      code",
        "",
        "lazy",
        "-",
        "- [ ] task",
        "  1. nested",
        "-\tTab",
        " - one space",
        "- - -",
    ],
    "ordered": [
        "1. one",
        "2. two",
        "10. ten",
        "   continued",
        "    more",
        "   - nested",
        "1) paren",
        "",
        "7.",
        "12) x",
    ],
    "code": ["    code", "\tcode", "", "      deeper", "  not code"],
    "fence": ["```py", "```", "~~~", "````", "x = 1", "# comment", "- no list", "", "  ```"],
    "math": [
        "$$",
        "$$x^2$$",
        "\\frac{a}{b}",
        "Inline $a_1$ math",
        "costs $5 and $10",
        "$$ \\sum_i i $$ after",
        "- $x$ item",
        "= 1",
    ],
    "table": [
        "| a | b |",
        "|---|:-:|",
        "| 1 | 2 |",
        "3 | 4",
        "no pipe",
        "1. list",
        "",
        "> q",
        "- x",
    ],
}
_ANY_LINE = sorted({line for pool in _POOLS.values() for line in pool})


@st.composite
def _documents(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        pool = _POOLS[draw(st.sampled_from(sorted(_POOLS)))]
        for _ in range(draw(st.integers(1, 8))):
            lines.append(draw(st.sampled_from(_ANY_LINE if draw(st.integers(0, 9)) == 0 else pool)))
        lines += [""] * draw(st.integers(0, 2))
    newline = draw(st.sampled_from(["\n", "\n", "\n", "\r\n"]))
    return newline.join(lines) + draw(st.sampled_from([newline, ""]))


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(text=_documents(), data=st.data())
def test_streamed_html_equals_whole_render(text: str, data: st.DataObject) -> None:
    split = data.draw(st.sampled_from(["lines", "chunks", "chars"]))
    if split == "lines":
        sizes = [len(line) for line in text.splitlines(keepends=True)] or [0]
    elif split == "chunks":
        sizes = data.draw(st.lists(st.integers(0, 12), min_size=len(text) // 4 + 1))
        sizes.append(len(text))  # whatever is left
    else:
        sizes = [1] * len(text)
    _check(text, sizes)  # same HTML, n increasing, no finished block left waiting
