"""/docs: the API's interactive documentation (Swagger UI), served from Parley's own files.

FastAPI's built-in page loads Swagger UI from a CDN and starts it with an inline script; both
are blocked by Parley's Content-Security-Policy (and a CDN is not there offline). Here the
Swagger UI files come from the `swagger-ui-bundle` package and the start-up script is a static
file of Parley's, so the page works offline under the same CSP as the rest of Parley.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

SWAGGER_UI = Path(swagger_ui_path)

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Parley API</title>
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
async def api_docs() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"Cache-Control": "no-cache"})
