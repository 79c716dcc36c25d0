"""/api/files: upload a file to attach to a prompt (multipart), and get one back.

Uploading is the one request Parley takes as multipart/form-data; web/security.py says how it
keeps cross-site forms out. A file is served to its owner only (anyone else: 404), and never
as something the browser could run: raster images inline, under `nosniff` and a sandboxing
CSP; everything else (an SVG is text here) as a download.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, HTTPException, Path, UploadFile
from fastapi.responses import Response

from ...chat.files import FileRefused, FileStore, StoredFile
from ...chat.store import Store
from ...settings import Settings
from ..deps import Owner, SettingsDep, StoreDep
from ..schemas import UploadedFile

router = APIRouter(prefix="/files", tags=["files"])

# A file is a document of its own: even opened directly, it may run nothing and load nothing.
_SANDBOX = "sandbox; default-src 'none'"


def file_store(store: Store, settings: Settings) -> FileStore:
    return FileStore(
        store.engine,
        max_file_bytes=settings.max_file_bytes,
        max_storage=settings.max_storage_per_user,
    )


@router.post(
    "",
    status_code=201,
    responses={
        413: {"description": "Larger than PARLEY_MAX_FILE_BYTES, or over the user's storage."},
        415: {"description": "Not an image (PNG, JPEG, GIF, WebP), a PDF or UTF-8 text."},
    },
)
async def upload_file(
    file: Annotated[UploadFile, File(description="The file; its type is read from its bytes.")],
    owner: Owner,
    store: StoreDep,
    settings: SettingsDep,
) -> UploadedFile:
    """Store a file to send with a prompt (`files` of the message). Send it as
    multipart/form-data with the header `X-Parley-Upload: 1` (web/security.py says why). The
    same bytes uploaded again give the same file."""
    # One byte more than allowed is enough to know it is too large.
    data = await file.read(settings.max_file_bytes + 1)
    try:
        stored = await file_store(store, settings).save(owner, file.filename, data)
    except FileRefused as exc:
        raise HTTPException(exc.status, exc.detail) from None
    return UploadedFile(
        id=stored.id,
        name=stored.name,
        media_type=stored.media_type,
        size=stored.size,
        kind=stored.kind,
    )


@router.get(
    "/{file_id}",
    response_class=Response,
    responses={
        200: {"description": "The file's bytes.", "content": {"application/octet-stream": {}}},
        404: {"description": "No such file (or not yours)."},
    },
)
async def get_file(
    file_id: Annotated[str, Path(max_length=64)],
    owner: Owner,
    store: StoreDep,
    settings: SettingsDep,
) -> Response:
    """A file of yours: an image inline, anything else as a download."""
    found = await file_store(store, settings).get(owner, file_id)
    if found is None:
        raise HTTPException(404, "No such file.")
    inline = found.kind == "image"
    media_type = "text/plain; charset=utf-8" if found.kind == "text" else found.media_type
    headers = {
        "Content-Disposition": _disposition(found, inline),
        # With web/security.py's headers on every response: `nosniff` (the browser takes the
        # type given, never one it guesses) and the page's CSP, which this one narrows.
        "Content-Security-Policy": _SANDBOX,
        # A file's bytes never change under its id; private: it is one user's.
        "Cache-Control": "private, max-age=86400",
    }
    return Response(found.data, media_type=media_type, headers=headers)


def _disposition(found: StoredFile, inline: bool) -> str:
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in found.name
    )
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(found.name, safe='')}"
