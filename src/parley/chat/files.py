"""Files attached to prompts: what is accepted, where the bytes live, how a model gets them.

A file is uploaded first (`FileStore.save`) and sent with a prompt by its id. What it is comes
from its bytes, never from the name or the type the browser claims: PNG, JPEG, GIF and WebP
images, PDFs, and text (valid UTF-8 without NUL: plain text, Markdown, CSV, source code).
Anything else is refused before it is stored.

The bytes are stored once per owner (content-addressed by SHA-256) in the database, so every
process sees them. A prompt's `BinaryContent` carries the file's id as its identifier; the
message JSON Parley stores keeps that reference with empty data (`strip_bytes`, called by
chat.history on every dump and by its cache) and the bytes are put back when a history is
loaded for a run (`restore_bytes`). So a history read costs its text only, and a
conversation's JSON does not grow by a third of each image base64 would add.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import filetype  # type: ignore[import-untyped]
import sqlalchemy as sa
from pydantic_ai.messages import (
    BinaryContent,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    UserContent,
    UserPromptPart,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db.clock import now
from ..db.engine import lock_key, write
from ..db.ids import new_id
from ..db.tables import files, message_files
from .models import AttachmentPart
from .text import clean_text

Kind = Literal["image", "pdf", "text"]

# Raster images only: an SVG is a document that can run script, and is not one of these.
_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# What a prompt's BinaryContent is identified by: "file-" and the file's id. Only these are
# stripped from stored JSON and restored.
_PREFIX = "file-"
_NAME_LIMIT = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FileRefused(Exception):
    """A file, or a prompt's files, that cannot be accepted: `status` and a sentence to show."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class StoredFile:
    id: str
    name: str
    media_type: str
    kind: Kind
    size: int
    # A PDF's extracted text; None for other kinds.
    text: str | None = None
    data: bytes = b""


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def detect(data: bytes) -> tuple[Kind, str]:
    """What `data` is, from its bytes: (kind, media type). FileRefused (415) otherwise."""
    if not data:
        raise FileRefused(422, "The file is empty.")
    guess = filetype.guess(data)
    if guess is not None:
        mime: str = guess.mime
        if mime in _IMAGES:
            return "image", mime
        if mime == "application/pdf":
            return "pdf", mime
    elif b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return "text", "text/plain"
    raise FileRefused(
        415,
        "Only images (PNG, JPEG, GIF, WebP), PDFs and UTF-8 text files can be attached.",
    )


def pdf_text(data: bytes) -> str:
    """The text of a PDF's pages (a scanned PDF has none); FileRefused if it cannot be read.
    Slow on large files: call in a worker thread."""
    import pypdf  # only when a PDF arrives

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many kinds for a broken file
        raise FileRefused(415, "This PDF could not be read.") from exc
    return clean_text("\n\n".join(p.strip() for p in pages).strip())


def clean_name(name: str | None) -> str:
    """A file name to show and to offer when downloading: the last path segment, no control
    characters, at most 255 characters."""
    base = re.split(r"[/\\]", clean_text(name or ""))[-1]
    base = _CONTROL.sub("", base).strip()
    return base[:_NAME_LIMIT] or "file"


class FileStore:
    """Uploads, each decided in the transaction that records it."""

    def __init__(self, engine: AsyncEngine, *, max_file_bytes: int, max_storage: int) -> None:
        self.engine = engine
        self.max_file_bytes = max_file_bytes
        self.max_storage = max_storage

    async def save(self, owner: str, name: str | None, data: bytes) -> StoredFile:
        """Store an upload (or find the same bytes already stored for this owner).

        FileRefused: 413 over PARLEY_MAX_FILE_BYTES or the owner's storage, 415 for a type
        Parley does not take. The storage rule is read and applied under the owner's lock
        inside the write transaction, so a burst of uploads cannot all pass it.
        """
        if len(data) > self.max_file_bytes:
            raise FileRefused(413, f"A file may be at most {megabytes(self.max_file_bytes)}.")
        kind, media_type = detect(data)
        text = await asyncio.to_thread(pdf_text, data) if kind == "pdf" else None
        digest = hashlib.sha256(data).hexdigest()
        row = {
            "id": new_id(),
            "owner_id": owner,
            "sha256": digest,
            "name": clean_name(name),
            "media_type": media_type,
            "kind": kind,
            "size": len(data),
            "text": text,
            "data": data,
            "created_at": now(),
        }
        try:
            async with write(self.engine) as conn:
                await lock_key(conn, f"files:{owner}")
                found = await _by_digest(conn, owner, digest)
                if found is not None:
                    return found
                used = await conn.scalar(
                    sa.select(sa.func.coalesce(sa.func.sum(files.c.size), 0)).where(
                        files.c.owner_id == owner
                    )
                )
                if int(used or 0) + len(data) > self.max_storage:
                    raise FileRefused(
                        413,
                        f"Your files would take more than {megabytes(self.max_storage)}. "
                        "Delete conversations with files you no longer need.",
                    )
                await conn.execute(files.insert().values(**row))
        except IntegrityError:
            # The same bytes stored meanwhile (SQLite in another process): that row is it.
            async with self.engine.connect() as conn:
                found = await _by_digest(conn, owner, digest)
            if found is None:
                raise
            return found
        return _stored(row, with_data=False)

    async def get(self, owner: str, file_id: str) -> StoredFile | None:
        """One of the owner's files with its bytes; None for a file of anyone else."""
        async with self.engine.connect() as conn:
            found = await load(conn, owner, [file_id])
        return found[0] if found else None

    async def load(self, owner: str, ids: Sequence[str]) -> list[StoredFile]:
        """The owner's files `ids` in that order, with their bytes; FileRefused (404) if one
        is not the owner's."""
        async with self.engine.connect() as conn:
            found = await load(conn, owner, ids)
        if len(found) != len(set(ids)):
            raise FileRefused(404, "No such file: upload it again.")
        return found


async def load(conn: AsyncConnection, owner: str, ids: Sequence[str]) -> list[StoredFile]:
    unique = list(dict.fromkeys(ids))
    rows = (
        await conn.execute(
            sa.select(files).where(files.c.id.in_(unique), files.c.owner_id == owner)
        )
    ).mappings()
    by_id = {r["id"]: _stored(r, with_data=True) for r in rows}
    return [by_id[i] for i in unique if i in by_id]


async def _by_digest(conn: AsyncConnection, owner: str, digest: str) -> StoredFile | None:
    columns = [c for c in files.c if c.name != "data"]
    row = (
        (
            await conn.execute(
                sa.select(*columns).where(files.c.owner_id == owner, files.c.sha256 == digest)
            )
        )
        .mappings()
        .first()
    )
    return _stored(row, with_data=False) if row else None


def _stored(row: sa.RowMapping | dict[str, Any], *, with_data: bool) -> StoredFile:
    return StoredFile(
        id=row["id"],
        name=row["name"],
        media_type=row["media_type"],
        kind=row["kind"],
        size=int(row["size"]),
        text=row["text"],
        data=bytes(row["data"]) if with_data else b"",
    )


# -- a prompt's content ------------------------------------------------------------------------


def prompt_content(
    prompt: str, attached: Sequence[StoredFile], *, model: str, images: bool, documents: bool
) -> tuple[list[UserContent], list[AttachmentPart]]:
    """The prompt as the model receives it, and the attachments its message lists.

    Images and PDFs go as their bytes when the model's profile takes them; text files as
    text for every model; a PDF for a model that takes no documents as its extracted text.
    An image for a model that cannot see is refused (415) rather than silently dropped.
    """
    content: list[UserContent] = [prompt]
    parts: list[AttachmentPart] = []
    for f in attached:
        sent_as: Literal["file", "text"] = "file"
        if f.kind == "text":
            content.append(_as_text(f.name, f.data.decode("utf-8")))
            sent_as = "text"
        elif f.kind == "pdf" and not documents:
            content.append(_as_text(f.name, f.text or "(no text could be extracted)"))
            sent_as = "text"
        elif f.kind == "image" and not images:
            raise FileRefused(
                415,
                f"{model} cannot see images: remove {f.name} or choose a model that can.",
            )
        else:
            content.append(
                BinaryContent(data=f.data, media_type=f.media_type, identifier=_PREFIX + f.id)
            )
        parts.append(
            AttachmentPart(
                id=f.id, name=f.name, media_type=f.media_type, size=f.size, sent_as=sent_as
            )
        )
    return content, parts


def _as_text(name: str, text: str) -> str:
    # The name is JSON-quoted: a name cannot close the delimiter early.
    return f"<file name={json.dumps(name)}>\n{text}\n</file>"


# -- bytes out of stored JSON, and back --------------------------------------------------------


def _ours(item: object) -> bool:
    return isinstance(item, BinaryContent) and item.identifier.startswith(_PREFIX)


def _with_data(item: BinaryContent, data: bytes) -> BinaryContent:
    return BinaryContent(
        data=data,
        media_type=item.media_type,
        identifier=item.identifier,
        vendor_metadata=item.vendor_metadata,
    )


def _map_contents(
    messages: Sequence[ModelMessage], change: dict[str, UserContent] | None
) -> list[ModelMessage]:
    """`messages` with each of Parley's files in a user prompt emptied (`change` None) or
    replaced by `change[identifier]`. Messages without any are returned as they are."""
    out: list[ModelMessage] = []
    for message in messages:
        if isinstance(message, ModelRequest) and any(
            isinstance(p, UserPromptPart)
            and not isinstance(p.content, str)
            and any(_ours(i) for i in p.content)
            for p in message.parts
        ):
            parts = [
                replace(p, content=[_changed(i, change) for i in p.content])
                if isinstance(p, UserPromptPart) and not isinstance(p.content, str)
                else p
                for p in message.parts
            ]
            message = replace(message, parts=parts)
        out.append(message)
    return out


def _changed(item: UserContent, change: dict[str, UserContent] | None) -> UserContent:
    if not isinstance(item, BinaryContent) or not _ours(item):
        return item
    if change is None:
        return _with_data(item, b"")
    return change.get(item.identifier, item)


def strip_bytes(messages: Sequence[ModelMessage]) -> list[ModelMessage]:
    """`messages` with the bytes of Parley's files left out (their reference kept)."""
    return _map_contents(messages, None)


async def restore_bytes(
    conn: AsyncConnection, owner: str, messages: Sequence[ModelMessage]
) -> list[ModelMessage]:
    """`messages` with the bytes of Parley's files put back, in one query. A file no longer
    stored (it cannot be while a message sends it) becomes a sentence saying so."""
    wanted = {
        item.identifier
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPromptPart) and not isinstance(part.content, str)
        for item in part.content
        if isinstance(item, BinaryContent) and _ours(item) and not item.data
    }
    if not wanted:
        return list(messages)
    found = await load(conn, owner, [w.removeprefix(_PREFIX) for w in wanted])
    change: dict[str, UserContent] = {
        w: "(an attached file that is no longer stored)" for w in wanted
    }
    for f in found:
        change[_PREFIX + f.id] = BinaryContent(
            data=f.data, media_type=f.media_type, identifier=_PREFIX + f.id
        )
    return _map_contents(messages, change)


async def stored_prompt(
    conn: AsyncConnection, owner: str, request_json: str
) -> list[UserContent] | None:
    """The user prompt of a stored request, bytes restored (regenerating a reply to a prompt
    with files); None for a prompt that is text only."""
    request = await restore_bytes(conn, owner, ModelMessagesTypeAdapter.validate_json(request_json))
    for message in request:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and not isinstance(part.content, str):
                    return list(part.content)
    return None


# -- which messages sent which files -----------------------------------------------------------


async def link(conn: AsyncConnection, message_id: str, file_ids: Sequence[str]) -> None:
    if file_ids:
        await conn.execute(
            message_files.insert(),
            [{"message_id": message_id, "file_id": f} for f in dict.fromkeys(file_ids)],
        )


async def copy_links(conn: AsyncConnection, new_ids: dict[str, str]) -> None:
    """A fork's copies send the files their originals sent."""
    rows = await conn.execute(
        sa.select(message_files.c.message_id, message_files.c.file_id).where(
            message_files.c.message_id.in_(list(new_ids))
        )
    )
    copies = [{"message_id": new_ids[m], "file_id": f} for m, f in rows]
    if copies:
        await conn.execute(message_files.insert(), copies)
