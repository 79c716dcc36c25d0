"""The page itself, its static files, and /api/info."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from ... import __version__
from ...render import highlight_css
from ..deps import Owner, ServicesDep, SettingsDep, UserDep
from ..schemas import Info

STATIC = Path(__file__).resolve().parent.parent.parent / "static"

pages = APIRouter(include_in_schema=False)
info = APIRouter(tags=["info"])


@pages.get("/")
@pages.get("/c/{conversation_id}")
async def index(request: Request, settings: SettingsDep, user: UserDep) -> Response:
    if settings.auth == "accounts" and user is None:
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/login?next={target}", status_code=303)
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@pages.get("/login")
async def login_page() -> FileResponse:
    return FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-cache"})


@pages.get("/static/highlight.css")
async def highlight_stylesheet() -> Response:
    return Response(highlight_css(), media_type="text/css")


@info.get("/info")
async def get_info(_owner: Owner, services: ServicesDep) -> Info:
    return Info(
        version=__version__,
        model=services.model,
        max_prompt_chars=services.settings.max_prompt_chars,
        model_notice=services.model_notice,
    )
