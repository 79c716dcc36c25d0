"""/docs: the API's interactive documentation (Swagger UI), served from Parley's own files.

FastAPI's built-in page loads Swagger UI from a CDN and starts it with an inline script; both
are blocked by Parley's Content-Security-Policy (and a CDN is not there offline). Here the
Swagger UI 5 files (it reads FastAPI's OpenAPI 3.1) come from the `fastapi-offline` package's
data and the start-up script is a static file of Parley's, so the page works offline under the
same CSP as the rest of Parley.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..mount import root, under

SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Parley API</title>
<meta name="parley-root" content="/">
<link rel="icon" href="/static/favicon.svg">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/apidocs.js"></script>
</body>
</html>
"""


@router.get("/docs")
async def api_docs(request: Request) -> HTMLResponse:
    page = under(_PAGE.encode(), root(request.scope))
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
