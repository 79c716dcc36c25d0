"""The shared page (`/s/<id>`): a share's snapshot as HTML written on the server.

Written here rather than by the front end's scripts: a reader needs no script to read it,
and the page loads nothing but Parley's own stylesheets and two small scripts (the theme, and
share.js for "Continue in my chats"), none inline, as the CSP requires (web/security.py).

What reaches the page as markup: Parley's own tags, and a reply's text parts' `html`, which
is sanitized HTML (render.py's allowlist when it was written, and again on its way here:
chat/shares.py). Everything else the conversation holds (title, prompts, thinking, tool calls
and results, errors, file names, model names) is text, escaped with `html.escape`, quotes
included, wherever it goes, element or attribute.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from html import escape
from urllib.parse import quote

from ..chat.models import (
    AttachmentPart,
    FilePart,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from ..chat.shares import Shared

_STATUS = {
    "generating": "(still being written when shared)",
    "stopped": "Stopped",
    "interrupted": "Interrupted",
    "awaiting_approval": "Waiting for approval",
}
_APPROVAL = {
    "pending": "Waiting for approval",
    "approved": "Approved",
    "denied": "Denied",
    "not_run": "Not run",
}


def _e(text: str) -> str:
    return escape(text, quote=True)


def _head(title: str, assets: str, *, script: bool, root: str = "") -> str:
    p = _e(root + assets)
    scripts = f'<script type="module" src="{p}share.js"></script>\n' if script else ""
    # noindex: a share link is for whom its owner gives it to, not for search engines (the
    # X-Robots-Tag header says the same for clients that do not read the page). no-referrer:
    # the link's unguessable id must not leak to a site a reply links to.
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f'<meta name="parley-root" content="{_e(root)}/">\n'
        f"<title>{_e(title)}</title>\n"
        f'<link rel="icon" href="{p}favicon.svg" type="image/svg+xml">\n'
        f'<link rel="stylesheet" href="{p}style.css">\n'
        f'<link rel="stylesheet" href="{p}highlight.css">\n'
        f'<link rel="stylesheet" href="{p}share.css">\n'
        # Classic and blocking, as on the other pages: the chosen theme before the first paint.
        f'<script src="{p}theme.js"></script>\n'
        f"{scripts}"
        "</head>\n"
    )


def share_page(
    shared: Shared, assets: str, *, can_continue: bool, login: bool, root: str = ""
) -> str:
    """The page of a share. `assets`: the versioned prefix of the front end's files;
    `can_continue`: offer "Continue in my chats"; `login`: else offer logging in to do it."""
    title = shared.title
    when = shared.shared_at
    body = "\n".join(_message(m, shared) for m in shared.messages())
    if not body:
        body = '<p class="share__empty">This conversation has no messages.</p>'
    return (
        _head(f"{title} · Shared · Parley", assets, script=can_continue, root=root)
        + '<body class="share-page">\n'
        + '<header class="share-bar"><span class="brand">Parley</span></header>\n'
        + '<main class="share" id="main">\n'
        + '<header class="share__head">\n'
        + f'<h1 class="share__title">{_e(title)}</h1>\n'
        + '<p class="share__when">Shared conversation · snapshot of '
        + f'<time datetime="{_e(when.isoformat())}">{_e(_date(when))}</time></p>\n'
        + _actions(shared.id, can_continue=can_continue, login=login, root=root)
        + "</header>\n"
        + '<section class="share__log" aria-labelledby="share-messages">\n'
        + '<h2 class="visually-hidden" id="share-messages">Messages</h2>\n'
        + body
        + "\n</section>\n</main>\n</body>\n</html>\n"
    )


def missing_page(assets: str, root: str = "") -> str:
    """What a share id that names nothing (never did, revoked, or its conversation deleted)
    shows: the same words whichever it is."""
    return (
        _head("Not found · Parley", assets, script=False, root=root)
        + '<body class="share-page">\n'
        + '<header class="share-bar"><span class="brand">Parley</span></header>\n'
        + '<main class="share" id="main">\n'
        + '<h1 class="share__title">This link does not work</h1>\n'
        + '<p class="share__when">The conversation is not shared at this address: the link '
        + "may have been mistyped, or its owner stopped sharing it.</p>\n"
        + "</main>\n</body>\n</html>\n"
    )


def _actions(share_id: str, *, can_continue: bool, login: bool, root: str) -> str:
    if can_continue:
        return (
            '<div class="share__actions">\n'
            '<button type="button" class="btn btn--primary" id="share-continue" '
            f'data-share="{_e(share_id)}">Continue in my chats</button>\n'
            '<p class="share__status" id="share-status" role="status"></p>\n'
            "</div>\n"
        )
    if login:
        target = _e(quote(f"{root}/s/{share_id}", safe="/"))
        return (
            '<p class="share__actions">'
            f'<a href="{_e(root)}/login?next={target}">Log in</a> to continue this '
            "conversation in your own chats.</p>\n"
        )
    return ""


def _date(value: datetime) -> str:
    """The date as "5 March 2025, 14:07 UTC", the same for every reader's locale."""
    return f"{value.day} {value:%B %Y}, {value:%H:%M} UTC"


def _message(message: Message, shared: Shared) -> str:
    if message.role == "user":
        files = _attachments([p for p in message.parts if isinstance(p, AttachmentPart)], shared)
        # No whitespace inside .msg__text: it keeps the prompt's own (white-space: pre-wrap).
        return (
            '<article class="msg msg--user" data-role="user">\n'
            '<h3 class="visually-hidden">Prompt</h3>\n'
            f'<div class="msg__text">{_e(message.text)}</div>\n'
            f"{files}</article>"
        )
    parts = "".join(_part(p, shared) for p in message.parts)
    error = ""
    if message.status == "error":
        error = f'<div class="msg__error"><p>{_e(message.error or "The reply failed.")}</p></div>\n'
    status = _STATUS.get(message.status, "")
    model = message.model or ""
    return (
        '<article class="msg msg--assistant" data-role="assistant" '
        f'data-status="{_e(message.status)}">\n'
        '<h3 class="visually-hidden">Reply</h3>\n'
        f'<div class="msg__parts">{parts}</div>\n'
        f"{error}"
        '<div class="msg__meta">'
        f'<span class="msg__status">{_e(status)}</span>'
        f'<span class="msg__model">{_e(model)}</span>'
        "</div>\n</article>"
    )


def _part(part: Part, shared: Shared) -> str:
    if isinstance(part, TextPart):
        if part.html is not None:
            # Sanitized HTML (see the module's docstring): the one string not escaped.
            return f'<div class="part part--text"><div class="md">{part.html}</div></div>'
        return f'<div class="part part--text"><div class="md-tail">{_e(part.text)}</div></div>'
    if isinstance(part, ThinkingPart):
        return (
            '<details class="part part--thinking"><summary>Thinking</summary>'
            f'<div class="thinking__text">{_e(part.text)}</div></details>'
        )
    if isinstance(part, ToolCallPart):
        decided = ""
        if part.approval is not None:
            decided = f'<p class="share__approval">{_e(_APPROVAL[part.approval.state])}</p>'
        return _tool("call", "Tool call", part.tool_name, _pretty(part.args), decided)
    if isinstance(part, ToolResultPart):
        return _tool("result", "Tool result", part.tool_name, part.content, "")
    if isinstance(part, AttachmentPart):
        return _attachments([part], shared)
    if isinstance(part, FilePart):
        # A file the model made: its bytes live in the model's messages, never served here.
        return f'<p class="share__withheld">{_withheld(part.media_type)}</p>'
    return ""


def _tool(kind: str, label: str, name: str, body: str, after: str) -> str:
    return (
        f'<details class="part part--tool part--tool-{kind}"><summary>'
        f'<span class="tool__label">{label}</span> <code class="tool__name">{_e(name)}</code>'
        f'</summary><pre class="tool__body">{_e(body)}</pre>{after}</details>'
    )


def _pretty(args: str) -> str:
    """Arguments as indented JSON when they parse, else as they came."""
    try:
        return json.dumps(json.loads(args), indent=2, ensure_ascii=False)
    except ValueError:
        return args


def _attachments(parts: Iterable[AttachmentPart], shared: Shared) -> str:
    items = [_attachment(p, shared) for p in parts]
    if not items:
        return ""
    listed = "".join(f"<li>{item}</li>" for item in items)
    return f'<ul class="files" aria-label="Attachments">{listed}</ul>\n'


def _attachment(part: AttachmentPart, shared: Shared) -> str:
    image = part.media_type.startswith("image/")
    if shared.file(part.id) is None:
        # Not included by the owner (or not carried): no name, no link, only what it was.
        return f'<span class="file-chip share__withheld">{_withheld(part.media_type)}</span>'
    # Relative to the page (/s/<id>), so it holds wherever Parley is mounted.
    url = _e(f"{quote(shared.id, safe='')}/files/{quote(part.id, safe='')}")
    meta = f"{_type_label(part.media_type)} · {_size(part.size)}"
    text = (
        f'<span class="file-chip__name">{_e(part.name)}</span>'
        f'<span class="file-chip__meta">{_e(meta)}</span>'
    )
    if image:
        return (
            f'<a class="file-chip" href="{url}" target="_blank" rel="noopener">'
            f'<img class="file-chip__thumb" src="{url}" alt="" loading="lazy">{text}</a>'
        )
    return f'<a class="file-chip" href="{url}" download="{_e(part.name)}">{text}</a>'


def _withheld(media_type: str) -> str:
    return "An image (not shared)" if media_type.startswith("image/") else "A file (not shared)"


def _type_label(media_type: str) -> str:
    if media_type == "application/pdf":
        return "PDF"
    if media_type.startswith("image/"):
        return f"{media_type.removeprefix('image/').upper()} image"
    return "Text"


def _size(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{round(size / 1000)} KB"
    return f"{size / 1_000_000:.1f} MB"
