"""The page itself, its static files, and /api/info."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from ...version import __version__
from ..assets import IMMUTABLE, REVALIDATE, Asset, matches
from ..deps import AssetsDep, Owner, ServicesDep, SettingsDep, UserDep
from ..mount import root
from ..schemas import Info

STATIC = Path(__file__).resolve().parent.parent.parent / "static"

pages = APIRouter(include_in_schema=False)
info = APIRouter(tags=["info"])


def _send(request: Request, asset: Asset, cache_control: str) -> Response:
    body, encoding, etag = asset.encoded(request.headers.get("accept-encoding", ""))
    headers = {"Cache-Control": cache_control, "ETag": etag, "Vary": "Accept-Encoding"}
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return Response(body, media_type=asset.media_type, headers=headers)


@pages.get("/")
@pages.get("/c/{conversation_id}")
async def index(
    request: Request, settings: SettingsDep, user: UserDep, assets: AssetsDep
) -> Response:
    prefix = root(request.scope)
    if settings.auth == "accounts" and user is None:
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"{prefix}/login?next={target}", status_code=303)
    return _send(request, assets.page("index.html", prefix), REVALIDATE)


@pages.get("/login")
async def login_page(request: Request, assets: AssetsDep) -> Response:
    return _send(request, assets.page("login.html", root(request.scope)), REVALIDATE)


@pages.get("/assets/{version}/{name:path}")
async def versioned_asset(request: Request, version: str, name: str, assets: AssetsDep) -> Response:
    """A file of this version of the front end, cached for good (see web/assets.py)."""
    asset = assets.file(name)
    if version != assets.version or asset is None:
        # Another version's file is not served as this one's: a page mixing versions breaks.
        raise HTTPException(404, "Not Found")
    return _send(request, asset, IMMUTABLE)


@pages.get("/static/{name:path}")
async def static_asset(request: Request, name: str, assets: AssetsDep) -> Response:
    """The files as written, under their plain names (the API docs page, reading the source):
    revalidated."""
    asset = assets.source(name)
    if asset is None:
        raise HTTPException(404, "Not Found")
    return _send(request, asset, REVALIDATE)


@info.get("/info")
async def get_info(_owner: Owner, services: ServicesDep) -> Info:
    return Info(
        version=__version__,
        model=services.model,
        max_prompt_chars=services.settings.max_prompt_chars,
        model_notice=services.model_notice,
    )
