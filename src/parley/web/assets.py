"""The front end's files: read once, named by a content hash, cached for as long as they exist.

Why a hash in the URL: a browser that keeps a module across an upgrade runs old code against
the new API, and modules import each other, so one stale file breaks the page. Every file of
`static/` (and the generated highlight stylesheet) is read at start-up; `version` hashes them
all, and the pages name them `/assets/<version>/<file>`. Such a URL never changes content, so it
is cached for a year (`immutable`) and a repeat visit asks for nothing but the page. The pages
themselves (`index.html`, `login.html`) are revalidated on every visit (`no-cache` with an
ETag: a 304 when nothing changed), so an upgrade is seen at the next load. Modules import one
another by relative path, so they stay inside the same version. One hash for the whole set,
not one per file: a module's URL would otherwise depend on the hashes of what it imports.

What is sent is minified (rJSmin, rCSSmin: comments, JSDoc types and indentation go) and
compressed once, at start-up, with brotli and gzip at their best levels: the whole front end is
a few dozen modules, and a first load must stay small. `/static/<file>` serves the files as
written (for reading them, and for the API docs page), revalidated. Everything else a response
carries is compressed by Starlette's GZipMiddleware (app.py), which leaves event streams alone.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import rcssmin  # type: ignore[import-untyped]
import rjsmin  # type: ignore[import-untyped]

from .mount import under

__all__ = ["IMMUTABLE", "REVALIDATE", "Asset", "Assets", "matches"]

# A year: the longest lifetime caches honour. `immutable`: not even a reload revalidates.
IMMUTABLE = "public, max-age=31536000, immutable"
# Stored, but asked about (If-None-Match) before every use.
REVALIDATE = "no-cache"

# The pages: their references to /static/ are rewritten to the versioned prefix.
_PAGES = ("index.html", "login.html")

_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}
# Smaller than this, compression saves less than its header costs.
_MIN_COMPRESS = 512


@dataclass(frozen=True, slots=True)
class Asset:
    """A file as sent: its bytes, and the same compressed (None when not worth it)."""

    body: bytes
    media_type: str
    etag: str
    br: bytes | None = None
    gzip: bytes | None = None

    def encoded(self, accept_encoding: str) -> tuple[bytes, str | None, str]:
        """The smallest body the client accepts, its Content-Encoding and its ETag (each
        coding is its own representation, so each has its own tag)."""
        accepted = _accepted(accept_encoding)
        if self.br is not None and "br" in accepted:
            return self.br, "br", self.etag[:-1] + '-br"'
        if self.gzip is not None and "gzip" in accepted:
            return self.gzip, "gzip", self.etag[:-1] + '-gzip"'
        return self.body, None, self.etag


def _accepted(accept_encoding: str) -> set[str]:
    """The codings an Accept-Encoding header allows (`;q=0` refuses one)."""
    found = set()
    for item in accept_encoding.lower().split(","):
        name, _, params = item.partition(";")
        quality = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
        try:
            refused = float(quality) == 0
        except ValueError:
            refused = False
        if name.strip() and not refused:
            found.add(name.strip())
    return found


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names this representation (weak comparison, as RFC 9110 asks
    for a 304)."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _media_type(name: str) -> str:
    media_type = _TYPES.get(Path(name).suffix) or mimetypes.guess_type(name)[0]
    media_type = media_type or "application/octet-stream"
    return media_type + "; charset=utf-8" if media_type.startswith("text/") else media_type


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _minified(name: str, body: bytes) -> bytes:
    if name.endswith(".js"):
        return bytes(rjsmin.jsmin(body))
    if name.endswith(".css"):
        return bytes(rcssmin.cssmin(body))
    return body


# Tests build many apps in one process: each file is minified and compressed once per content.
@functools.lru_cache(maxsize=1024)
def _compressed(name: str, body: bytes) -> Asset:
    asset = Asset(body, _media_type(name), _etag(body))
    if len(body) < _MIN_COMPRESS or not asset.media_type.startswith(("text/", "image/svg")):
        return asset
    return Asset(
        body,
        asset.media_type,
        asset.etag,
        br=brotli.compress(body, quality=11),
        gzip=gzip.compress(body, compresslevel=9, mtime=0),
    )


class Assets:
    """The static files in memory, by name, and the pages that reference them by version."""

    def __init__(self, directory: Path, generated: dict[str, bytes]) -> None:
        bodies = {
            path.relative_to(directory).as_posix(): path.read_bytes()
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }
        bodies.update(generated)
        digest = hashlib.sha256()
        for name, body in sorted(bodies.items()):
            digest.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
        self.version = digest.hexdigest()[:16]
        self.prefix = f"/assets/{self.version}/"
        self._source = {name: _compressed(name, body) for name, body in bodies.items()}
        self._sent = {
            name: _compressed(name, _minified(name, body)) for name, body in bodies.items()
        }
        self._pages = {
            name: bodies[name].replace(b'"/static/', f'"{self.prefix}'.encode())
            for name in _PAGES
            if name in bodies
        }
        # By the root they are served under: "" on its own, the mount's path when mounted
        # (in practice one root per app, compressed once).
        self._rooted: dict[tuple[str, str], Asset] = {}

    def file(self, name: str) -> Asset | None:
        """A static file by its path under `static/`, minified (never a path outside it: only
        the names read at start-up exist)."""
        return self._sent.get(name)

    def source(self, name: str) -> Asset | None:
        """A static file as written."""
        return self._source.get(name)

    def page(self, name: str, root: str = "") -> Asset:
        """A page, its asset references versioned, its URLs under `root` (web/mount.py)."""
        key = (name, root)
        if (found := self._rooted.get(key)) is None:
            found = self._rooted[key] = _compressed(name, under(self._pages[name], root))
        return found
