"""Export and import: one conversation or everything of the user, out as Parley JSON or
Markdown; in from Parley JSON, ChatGPT's or Claude's `conversations.json` (chat/archive/)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from ...chat.archive.export import archive, document
from ...chat.archive.importer import FileLimits
from ...chat.archive.markdown import to_markdown
from ...chat.archive.reader import Outcome, Unreadable, import_file
from ...db.clock import now
from ..deps import Owner, SettingsDep, StoreDep

router = APIRouter(tags=["archive"])

NOT_FOUND = "No such conversation."


class ImportRefusal(BaseModel):
    # The conversation's place in the file (from 0) and its title, if it has one.
    index: int
    title: str | None
    detail: str


class ImportResult(BaseModel):
    """What an import did: each conversation was imported whole, skipped (it was imported
    before: the source's own ids say so), or refused (nothing of it written; `refusals` say
    why, the first 100)."""

    format: Literal["parley", "chatgpt", "claude"]
    imported: int
    skipped: int
    refused: int
    conversation_ids: list[str]
    refusals: list[ImportRefusal]


@router.get(
    "/conversations/{conversation_id}/export",
    responses={200: {"content": {"application/json": {}, "text/markdown": {}}}},
)
async def export_conversation(
    conversation_id: str,
    owner: Owner,
    store: StoreDep,
    format: Literal["json", "markdown"] = "json",
) -> Response:
    """The conversation as Parley JSON (every branch, its files, Pydantic AI's messages: see
    docs/export-format.md) or as Markdown (the branch shown)."""
    stem = f"parley-{conversation_id}"
    if format == "markdown":
        exported = await store.export(owner, conversation_id)
        if exported is None:
            raise HTTPException(404, NOT_FOUND)
        conversation, items = exported
        return Response(
            to_markdown(conversation, [m for m, _ in items]),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.md"'},
        )
    async with store.engine.connect() as conn:
        text = await document(conn, owner, conversation_id)
    if text is None:
        raise HTTPException(404, NOT_FOUND)
    return Response(
        text,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{stem}.json"'},
    )


@router.get("/export", responses={200: {"content": {"application/json": {}}}})
async def export_everything(owner: Owner, store: StoreDep) -> StreamingResponse:
    """All of the user's conversations (archived ones too) as one Parley JSON document,
    written as it is read."""
    name = f"parley-export-{now().date().isoformat()}.json"
    return StreamingResponse(
        _encoded(archive(store.engine, owner)),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _encoded(pieces: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for piece in pieces:
        yield piece.encode()


@router.post(
    "/import",
    responses={
        413: {"description": "The file is larger than PARLEY_MAX_IMPORT_BYTES."},
        422: {"description": "Not JSON, cut short, or not an export Parley knows."},
    },
)
async def import_conversations(
    request: Request, owner: Owner, store: StoreDep, settings: SettingsDep
) -> ImportResult:
    """Import an export file sent as the request body (`application/json`): Parley JSON,
    ChatGPT's `conversations.json` or Claude's, recognised from its shape. The file is read
    as a stream; each conversation is imported whole or not at all, and one imported before
    (the same source ids) is skipped."""
    limits = FileLimits(settings.max_file_bytes, settings.max_storage_per_user)
    with tempfile.TemporaryFile() as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_import_bytes:
                raise HTTPException(
                    status.HTTP_413_CONTENT_TOO_LARGE,
                    f"An import may be at most {settings.max_import_bytes / 1_000_000:g} MB.",
                )
            spool.write(chunk)
        if size == 0:
            raise HTTPException(422, "The request has no file: send the export as its body.")
        spool.seek(0)
        try:
            outcome = await import_file(store.engine, owner, spool, limits=limits)
        except Unreadable as exc:
            raise HTTPException(422, exc.detail) from exc
    return _result(outcome)


def _result(outcome: Outcome) -> ImportResult:
    return ImportResult(
        format=outcome.format,
        imported=outcome.imported,
        skipped=outcome.skipped,
        refused=outcome.refused,
        conversation_ids=outcome.conversation_ids,
        refusals=[ImportRefusal(**r) for r in outcome.refusals],
    )
