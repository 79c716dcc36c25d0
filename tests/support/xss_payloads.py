"""A corpus of XSS payloads for the browser tests, grouped by the trick each one tries.

Every payload that could run script calls one hook with its own number, so a browser test sees
which one ran: `HIT` becomes `(top.__xss_hits=(top.__xss_hits||[])).push(N)` (`top`, so that a
same-origin frame such as an `<iframe srcdoc>` reports to the page), and `ALERT` becomes
`alert(N)` where the script would run in an opaque origin (`data:` documents) that cannot reach
the page: Playwright sees the dialog from any frame. The payloads that navigate instead of
running script (meta refresh, base href, form action) point at `https://xss.invalid/`, so a test
catches them by the page leaving the test server's origin (or by a request to that host).

Every payload is at most 200 characters (the longest conversation title) and is complete
markdown on its own: no open code fence or reference swallows the payloads after it when they
are joined with blank lines.
"""

from __future__ import annotations

import base64
import itertools
import re

__all__ = ["ALL", "BY_KIND", "HOOK", "batches"]

#: The JavaScript that records payload N's execution on the page.
HOOK = "(top.__xss_hits=(top.__xss_hits||[])).push({n})"

_OUTSIDE = "https://xss.invalid/"

_KINDS: dict[str, list[str]] = {
    # <script> elements: plain, mixed case, with attributes, nested or split by another tag,
    # and breaking out of the markup around the places text is shown (title, textarea, attr).
    "script_tags": [
        "<script>HIT</script>",
        "<SCRIPT>HIT</SCRIPT>",
        "<ScRiPt>HIT</sCrIpT>",
        '<script type="text/javascript">HIT</script>',
        "<script src=data:text/javascript,HIT></script>",
        "<script/x>HIT</script>",
        "<scr<script>ipt>HIT</scr</script>ipt>",
        "<<script>script>HIT<</script>/script>",
        '"><script>HIT</script>',
        "</title><script>HIT</script>",
        "</textarea><script>HIT</script>",
    ],
    # Event handler attributes on many tags, most of which fire with no user action.
    "event_handlers": [
        "<img src=x onerror=HIT>",
        '<img src="x" onerror="HIT">',
        "<IMG SRC=x OnErRoR=HIT>",
        "<img/src/onerror=HIT>",
        "<svg onload=HIT>",
        "<svg/onload=HIT>",
        "<body onload=HIT>",
        "<body onpageshow=HIT>",
        "<details open ontoggle=HIT>",
        "<iframe onload=HIT></iframe>",
        "<video src=x onerror=HIT></video>",
        "<audio src=x onerror=HIT></audio>",
        "<video><source onerror=HIT></video>",
        "<input autofocus onfocus=HIT>",
        "<select autofocus onfocus=HIT></select>",
        "<textarea autofocus onfocus=HIT></textarea>",
        "<marquee onstart=HIT>x</marquee>",
        "<input type=image src=x onerror=HIT>",
        "<image src=x onerror=HIT>",
        "<a href=# onclick=HIT autofocus onfocus=HIT>x</a>",
        '<div onmouseover="HIT" style="position:fixed;inset:0">x</div>',
    ],
    # Script URLs in markdown links, images and autolinks: the scheme in any case, behind
    # HTML entities, split by a tab or newline entity, after leading space or a control
    # character, and vbscript: and data:text/html.
    "script_urls": [
        "[a](javascript:HIT)",
        "[a](JaVaScRiPt:HIT)",
        "[a](&#106;avascript:HIT)",
        "[a](&#x6A;avascript:HIT)",
        "[a](&#0000106;avascript:HIT)",
        "[a](javas&#99;ript:HIT)",
        "[a](javascript&colon;HIT)",
        "[a](java&#9;script:HIT)",
        "[a](java&#x0A;script:HIT)",
        "[a](&#1;javascript:HIT)",
        "[a](java\tscript:HIT)",
        "[a](<java\nscript:HIT>)",
        "[a]( javascript:HIT )",
        "[a](<javascript:HIT>)",
        '[a](javascript:HIT "title")',
        "[a](vbscript:HIT)",
        "[a](VBScript:HIT)",
        "[a](data:text/html,%3Cscript%3EALERT%3C/script%3E)",
        "[a](data:text/html;base64,B64ALERT)",
        "![x](javascript:HIT)",
        "![x](data:image/svg+xml,%3Csvg%20onload=ALERT%3E)",
        "<javascript:HIT>",
        "<JAVASCRIPT:HIT>",
        "<vbscript:HIT>",
        "<data:text/html,%3Cscript%3EALERT%3C/script%3E>",
    ],
    # Markdown structure used to smuggle a URL or an attribute: reference definitions, nested
    # brackets, a title or alt text that tries to close its attribute.
    "markdown_tricks": [
        "[a][r1]\n\n[r1]: javascript:HIT",
        "[r2]\n\n[r2]: javascript:HIT",
        '[a][r3]\n\n[r3]: <javascript:HIT> "t"',
        "[a][r4]\n\n[r4]: &#106;avascript:HIT",
        "[[a](javascript:HIT)](#ok)",
        "[a]([b](javascript:HIT))",
        "[a](#ok)(javascript:HIT)",
        '![x](x" onerror="HIT)',
        '![x" onerror="HIT](javascript:x)',
        '![x](javascript:x "x\\" onerror=\\"HIT")',
        "[a](javascript:x 'x' onmouseover=HIT)",
        "[<img src=x onerror=HIT>](#ok)",
        "**<img src=x onerror=HIT>**",
        "| <svg onload=HIT> | b |\n|---|---|\n| <img src=x onerror=HIT> | c |",
        "> <iframe srcdoc=<script>HIT</script>>",
        "- <details open ontoggle=HIT>\n- [a](javascript:HIT)",
    ],
    # Raw HTML inside code fences, indented code and inline code: it must show as text.
    "code": [
        "```\n<script>HIT</script>\n```",
        "```html\n<img src=x onerror=HIT>\n```",
        "```js\n</code></pre><script>HIT</script>\n```",
        '```"><img src=x onerror=HIT>\ncode\n```',
        "```python onerror=HIT\nx = 1\n```",
        '~~~\n<iframe srcdoc="<script>HIT</script>"></iframe>\n~~~',
        "    <svg onload=HIT>",
        "`<img src=x onerror=HIT>`",
        "`` <script>HIT</script> ``",
    ],
    # HTML entities that decode to markup, and broken, unclosed or commented tags.
    "entities_and_broken_tags": [
        "&lt;script&gt;HIT&lt;/script&gt;",
        "&#60;img src=x onerror=HIT&#62;",
        "<img src=x onerror=HIT//",
        "<img src=x onerror=HIT",
        "<svg><p><style><img src=x onerror=HIT>",
        '<!--<img src="--><img src=x onerror=HIT//">',
        "<![CDATA[<script>HIT</script>]]>",
        '<img """><script>HIT</script>">',
        "<img src=`x`onerror=HIT>",
        "\\<script>HIT\\</script>",
        "<a href='x' onclick='HIT'",
    ],
    # Tags that load, navigate or restyle without script: links with a target, style,
    # link, meta refresh, base, form, object, embed, iframe (src and srcdoc).
    "loading_and_navigating_tags": [
        '<a href="javascript:HIT" target="_blank">x</a>',
        f'<a href="{_OUTSIDE}" target="_top">x</a>',
        f'<style>@import "{_OUTSIDE}x.css";</style>',
        '<style>body{background:url("javascript:HIT")}</style>',
        f'<link rel="stylesheet" href="{_OUTSIDE}x.css">',
        f'<meta http-equiv="refresh" content="0;url={_OUTSIDE}">',
        '<meta http-equiv="refresh" content="0;url=javascript:HIT">',
        f'<base href="{_OUTSIDE}">',
        f'<form action="{_OUTSIDE}"><button>Send</button></form>',
        '<form><button formaction="javascript:HIT">x</button></form>',
        '<object data="javascript:HIT"></object>',
        '<object data="data:text/html,<script>ALERT</script>"></object>',
        '<embed src="javascript:HIT">',
        '<embed src="data:text/html,<script>ALERT</script>">',
        '<iframe src="javascript:HIT"></iframe>',
        '<iframe srcdoc="<script>HIT</script>"></iframe>',
        '<iframe srcdoc="&lt;img src=x onerror=HIT&gt;"></iframe>',
    ],
    # SVG and MathML: script inside SVG, SMIL animation events, xlink:href, foreign content.
    "svg_and_math": [
        "<svg><script>HIT</script></svg>",
        '<svg><script href="data:,HIT"/></svg>',
        "<svg><animate onbegin=HIT attributeName=x dur=1s>",
        "<svg><set onbegin=HIT attributeName=x to=1>",
        '<svg><a xlink:href="javascript:HIT"><text y=20>x</text></a></svg>',
        "<svg><a><animate attributeName=href values=javascript:HIT /><text>x</text></a></svg>",
        "<svg><foreignObject><img src=x onerror=HIT></foreignObject></svg>",
        '<math href="javascript:HIT">x</math>',
        "<math><maction actiontype=statusline xlink:href=javascript:HIT>x</maction></math>",
    ],
    # Mutation XSS: markup that a sanitizer's parse and the browser's re-parse read
    # differently (noscript, template, style inside svg/math, raw-text elements).
    "mutation_xss": [
        '<noscript><p title="</noscript><img src=x onerror=HIT>">',
        "<template><img src=x onerror=HIT></template>",
        "<template><script>HIT</script></template>",
        "<math><mtext><table><mglyph><style><img src=x onerror=HIT>",
        "<form><math><mtext></form><form><mglyph><style></math><img src onerror=HIT>",
        '<svg></p><style><a id="</style><img src=1 onerror=HIT>">',
        "<svg><style><img src=x onerror=HIT></style></svg>",
        '<xmp><p title="</xmp><img src=x onerror=HIT>">',
        '<noembed><img title="</noembed><img src=x onerror=HIT>"></noembed>',
        '<textarea><img title="</textarea><img src=x onerror=HIT>"></textarea>',
        '<title><img title="</title><img src=x onerror=HIT>"></title>',
        "<select><template><img src=x onerror=HIT></template></select>",
    ],
}


def _fill(template: str, n: int) -> str:
    """Replace a payload's HIT/ALERT/B64ALERT markers with hook calls carrying its number."""
    calls = {
        "HIT": HOOK.format(n=n),
        "ALERT": f"alert({n})",
        "B64ALERT": base64.b64encode(f"<script>alert({n})</script>".encode()).decode(),
    }
    return re.sub(r"B64ALERT|ALERT|HIT", lambda m: calls[m[0]], template)


_numbers = itertools.count(1)

#: The payloads by kind, each calling the hook with its own number (1-based, in order).
BY_KIND: dict[str, list[str]] = {
    kind: [_fill(template, next(_numbers)) for template in templates]
    for kind, templates in _KINDS.items()
}
#: Every payload, in order: payload N is ALL[N - 1].
ALL: list[str] = [payload for payloads in BY_KIND.values() for payload in payloads]


def batches(size: int) -> list[str]:
    """The payloads `size` at a time, each batch one message with blank lines between them."""
    return ["\n\n".join(ALL[i : i + size]) for i in range(0, len(ALL), size)]
