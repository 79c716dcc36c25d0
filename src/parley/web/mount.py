"""Parley under a path of another app (`app.mount("/chat", create_app(...))`).

Starlette gives a mounted app the whole request path in `scope["path"]` and the mount's
prefix in `scope["root_path"]`. Parley's routes match the rest; everything Parley *writes* (a
page's links, a redirect, a cookie's path, a share link) must carry the prefix, and checks on
the path (web/security.py) must look at the rest. Standalone, the root is "".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["root", "route_path", "under"]


def root(scope: Mapping[str, Any]) -> str:
    """The prefix Parley is mounted at, without a trailing slash ("" standalone)."""
    value = scope.get("root_path") or ""
    return str(value).rstrip("/")


def route_path(scope: Mapping[str, Any]) -> str:
    """The request's path as Parley's own routes see it ("/api/import" under any prefix)."""
    path = str(scope["path"])
    prefix = root(scope)
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return path[len(prefix) :] or "/"
    return path


def under(html: bytes, prefix: str) -> bytes:
    """A page of Parley's with each root-relative URL (`href="/…"`, `src="/…"`,
    `content="/…"`) moved under `prefix`. Parley's pages write every URL that way and nothing
    else starts with `="/`, so a plain replacement is exact."""
    if not prefix:
        return html
    return html.replace(b'="/', f'="{prefix}/'.encode())
