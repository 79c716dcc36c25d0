"""What every request passes before any route: Host (DNS rebinding), cross-site writes (CSRF),
forwarded headers from trusted proxies, the body size limit, and the security headers of every
response."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import Settings
from .mount import route_path

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Health probes come from load balancers and orchestrators, addressed by the instance's IP (no
# listed host name); their answers hold nothing a DNS-rebinding page could want. /metrics
# stays behind the Host check: who may read it is decided by address, which rebinding abuses.
_PROBES = frozenset({"/healthz", "/readyz"})
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The one route that takes multipart/form-data (a file upload, web/routes/files.py), and the
# header it requires, which no HTML form can send (see _cross_site_problem).
UPLOAD_PATH = "/api/files"
# An import is read by its route as a stream, under its own limit (PARLEY_MAX_IMPORT_BYTES).
IMPORT_PATH = "/api/import"
UPLOAD_HEADER = "x-parley-upload"
# Room for the multipart framing around the file itself (boundaries, part headers, name).
_UPLOAD_FRAMING = 64 * 1024


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.allowed_hosts = _LOCAL_HOSTS | {h.lower() for h in settings.allowed_hosts}
        # Local mode serves loopback only: a page on another site that rebinds its own name to
        # 127.0.0.1 still sends that name as Host, so refusing unknown Host names stops it.
        # In accounts mode the public names go in PARLEY_ALLOWED_HOSTS; unset, any is accepted.
        self.check_host = settings.auth == "local" or bool(settings.allowed_hosts)
        self.trusted_proxies = frozenset(settings.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        self._behind_proxy(scope, headers)
        host = headers.get("host", "")
        if (
            self.check_host
            and _host_name(host) not in self.allowed_hosts
            and route_path(scope) not in _PROBES
        ):
            await refuse(send, 421, "This server does not answer to that host name.")
            return
        if scope["method"] in _UNSAFE:
            upload = scope["method"] == "POST" and route_path(scope) == UPLOAD_PATH
            problem = _cross_site_problem(headers, scope.get("scheme", "http"), host, upload)
            if problem is not None:
                await refuse(send, *problem)
                return
        await self.app(scope, receive, send)

    def _behind_proxy(self, scope: Scope, headers: Headers) -> None:
        """Take the client address and scheme from a trusted reverse proxy's headers.

        Only from the configured proxy addresses: anyone else could claim any address. The
        connection's own peer is kept as `parley.peer`, which the trusted user header needs.
        """
        peer = scope.get("client")
        scope["parley.peer"] = peer[0] if peer else None
        if not peer or peer[0] not in self.trusted_proxies:
            return
        proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto
        client = client_address(headers.getlist("x-forwarded-for"), self.trusted_proxies)
        if client:
            scope["client"] = (client, 0)


def client_address(lines: list[str], trusted: frozenset[str]) -> str | None:
    """The client's address from X-Forwarded-For header lines, read from the right.

    Every proxy appends the address it saw to the end; everything to the left of the first
    untrusted hop was written by the client and may be made up. So the answer is the right-most
    address that is not one of our own proxies, across all the header's lines (a proxy may add
    its own line after the client's instead of extending it).
    """
    hops = [hop.strip() for line in lines for hop in line.split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted:
            return hop
    return None


def _cross_site_problem(
    headers: Headers, scheme: str, host: str, upload: bool = False
) -> tuple[int, str] | None:
    # Browsers send Origin (and Sec-Fetch-Site) on cross-site writes; a page on another site
    # must not change anything here with the user's cookie.
    if headers.get("sec-fetch-site") == "cross-site":
        return 403, "Cross-site requests are refused."
    origin = headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if origin == "null" or parts.netloc.lower() != host.lower() or parts.scheme != scheme:
            return 403, "Requests from another origin are refused."
    # JSON only: HTML forms can POST text/plain, urlencoded or multipart bodies across sites
    # without a CORS preflight ("simple requests"); they cannot send application/json.
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    content_type = headers.get("content-type")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if upload and media_type == "multipart/form-data":
        # The upload is multipart, exactly what a cross-site form can send (with the user's
        # cookie, no preflight). The checks above refuse it when the browser says where it
        # comes from (Sec-Fetch-Site, Origin). What holds even when it does not: a custom
        # header. A form cannot set one, and a page's fetch() that sets one to another site
        # is preflighted (CORS), which Parley never allows, so the request is never sent.
        # Parley's own page sends it (static/api.js); API clients add it by hand.
        if headers.get(UPLOAD_HEADER) is None:
            return 403, f"Uploads must carry the {UPLOAD_HEADER} header."
        return None
    if (has_body or content_type) and (
        content_type is None or content_type.split(";")[0].strip().lower() != "application/json"
    ):
        return 415, "Send the request body as application/json."
    return None


async def refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# Everything the page loads comes from Parley itself: scripts only from our origin (no inline
# script, no eval), so even if markup slipped past the sanitizer it could not run a script.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the security headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimit:
    """Answers 413 for a body over `max_bytes`, whether declared (Content-Length) or streamed.

    A body without a declared length (chunked) is read here, up to the limit, before the app
    sees it: refusing in the middle of the app's own read would surface as the framework's
    400 "error parsing the body" instead of a 413.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_file_bytes: int | None = None,
        max_import_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_import_bytes = max_import_bytes
        # A file upload's own limit, with room for its framing: a file just over it still
        # reaches the route, which says how large a file may be.
        self.max_upload_bytes = max(max_bytes, (max_file_bytes or 0) + _UPLOAD_FRAMING)
        self.max_file_bytes = max_file_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and route_path(scope) == UPLOAD_PATH
        if (
            self.max_import_bytes is not None
            and scope["method"] == "POST"
            and route_path(scope) == IMPORT_PATH
        ):
            # Not buffered here: the route streams the body to a temporary file and answers
            # 413 itself past the limit, so a large import never sits whole in memory.
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if upload else self.max_bytes
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
        if declared is not None:
            if declared > limit:
                await self._refuse(send, upload)
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, upload)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, upload: bool = False) -> None:
        if upload and self.max_file_bytes is not None:
            detail = f"A file may be at most {self.max_file_bytes / 1_000_000:g} MB."
        else:
            detail = f"The request is larger than {self.max_bytes} bytes."
        await refuse(send, 413, detail)
