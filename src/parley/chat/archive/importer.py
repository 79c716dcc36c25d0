"""Writing an imported conversation: checked whole first, then written whole in one transaction.

`prepare` does everything that needs no database (and may run in a worker thread): the tree is
checked (each parent earlier in the list, prompts and replies alternating), text cleaned, every
reply's HTML sanitized again (an archive is a file anyone can write), each message's Pydantic
AI JSON validated (a history that does not load would break the conversation's next turn)
and the files checked against their SHA-256 and their bytes. `write_prepared` then decides,
inside its transaction, whether the conversation is already here (by its id, or the key of
the app it came from: importing a file twice adds nothing), which ids it keeps (its own when
they are free: a conversation moved between servers keeps its links), and which files it
shares with the owner's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from pydantic_ai.messages import ModelMessagesTypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ...db.clock import as_utc
from ...db.engine import lock_key, write
from ...db.ids import new_id
from ...db.tables import conversations, files, message_files, messages
from ...render import render_markdown, sanitize
from ..files import FileRefused, detect
from ..history import dump_messages
from ..models import AttachmentPart, Part, TextPart
from ..text import clean_json, clean_text
from .errors import NotConvertible
from .format import ArchivedConversation

_PARTS: TypeAdapter[list[Part]] = TypeAdapter(list[Part])
_FILE_REF = "file-"
# SQLite binds at most 32,766 parameters per statement: id lookups go in slices.
_SLICE = 1000
DEFAULT_TITLE = "Imported chat"


@dataclass(frozen=True)
class FileLimits:
    """The limits an upload has (settings), which an imported file has too."""

    max_file_bytes: int
    max_storage: int


@dataclass
class _File:
    id: str
    name: str
    media_type: str
    kind: str
    size: int
    sha256: str
    text: str | None
    data: bytes
    created_at: datetime


@dataclass
class Prepared:
    """A conversation checked and ready to write; ids are still the source's."""

    conversation: ArchivedConversation
    rows: list[dict[str, Any]]
    leaf: str | None
    files: dict[str, _File]
    # Per message id, the ids of the files its prompt sent.
    sends: dict[str, list[str]] = field(default_factory=dict)


def validate(raw: Any) -> ArchivedConversation:
    """A conversation of a Parley JSON document, cleaned and validated; NotConvertible with
    what is wrong otherwise."""
    try:
        return ArchivedConversation.model_validate(_cleaned(raw))
    except RecursionError as exc:
        raise NotConvertible("It is nested too deeply to read.") from exc
    except ValidationError as exc:
        raise NotConvertible(_first_error(exc)) from exc


def _cleaned(raw: Any) -> Any:
    """`raw` with its strings cleaned (chat/text.py), walked only when one needs it: the C
    encoder finds a lone surrogate (UTF-8 cannot encode it) or a NUL (escaped) in one pass,
    where walking every string of every conversation in Python doubled an import's time."""
    try:
        text = json.dumps(raw, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        return clean_json(raw)
    return clean_json(raw) if "\\u0000" in text else raw


def prepare(conversation: ArchivedConversation) -> Prepared:
    """Check and convert a conversation for `write_prepared` (no database needed)."""
    known: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    sends: dict[str, list[str]] = {}
    for number, message in enumerate(conversation.messages, start=1):
        where = f"message {number} ({message.id})"
        if message.id in known:
            raise NotConvertible(f"{where} appears twice.")
        parent_role = known.get(message.parent_id) if message.parent_id is not None else None
        if message.parent_id is not None and parent_role is None:
            raise NotConvertible(f"{where}: its parent {message.parent_id} is not before it.")
        if message.role == "user" and parent_role == "user":
            raise NotConvertible(f"{where}: a prompt must follow a reply.")
        if message.role == "assistant" and parent_role != "user":
            raise NotConvertible(f"{where}: a reply must answer a prompt.")
        known[message.id] = message.role
        try:
            model_messages = ModelMessagesTypeAdapter.validate_python(message.model_messages)
        except (ValidationError, RecursionError) as exc:
            raise NotConvertible(f"{where}: its Pydantic AI messages do not load.") from exc
        parts = [_safe(p, message.role) for p in message.parts]
        sends[message.id] = [p.id for p in parts if isinstance(p, AttachmentPart)]
        rows.append(
            {
                "id": message.id,
                "parent_id": message.parent_id,
                "seq": number,
                "role": message.role,
                "text": clean_text(message.text),
                "parts": [p.model_dump() for p in parts],
                "model_messages": dump_messages(model_messages),
                # Nothing is generating an imported reply: it stopped where the file has it.
                "status": "interrupted" if message.status == "generating" else message.status,
                "error": message.error,
                "model": message.model,
                "usage": message.usage.model_dump() if message.usage else None,
                "run_id": None,
                "created_at": as_utc(message.created_at),
                "updated_at": as_utc(message.updated_at or message.created_at),
            }
        )
    leaf = conversation.current_leaf_id
    if leaf is not None and leaf not in known:
        raise NotConvertible(f"Its current message {leaf} is not one of its messages.")
    if leaf is None and rows:
        leaf = rows[-1]["id"]
    return Prepared(conversation, rows, leaf, _checked_files(conversation), sends)


def _safe(part: Part, role: str) -> Part:
    """A part as Parley would have written it: a prompt's text has no HTML, a reply's HTML is
    sanitized again (or rendered, when the file has none)."""
    if not isinstance(part, TextPart):
        return part
    if role == "user":
        return TextPart(text=part.text)
    html = sanitize(part.html) if part.html is not None else render_markdown(part.text)
    return TextPart(text=part.text, html=html)


def _checked_files(conversation: ArchivedConversation) -> dict[str, _File]:
    checked: dict[str, _File] = {}
    for f in conversation.files:
        digest = hashlib.sha256(f.data).hexdigest()
        if digest != f.sha256.lower():
            raise NotConvertible(f"The file {f.name!r} is damaged (its SHA-256 differs).")
        try:
            # What it is comes from its bytes, as for an upload, not from what the file says.
            kind, media_type = detect(f.data)
        except FileRefused as exc:
            raise NotConvertible(f"The file {f.name!r}: {exc.detail}") from exc
        checked[f.id] = _File(
            id=f.id,
            name=clean_text(f.name)[:255] or "file",
            media_type=media_type,
            kind=kind,
            size=len(f.data),
            sha256=digest,
            text=clean_text(f.text) if f.text is not None else None,
            data=f.data,
            created_at=as_utc(f.created_at),
        )
    return checked


async def write_prepared(
    engine: AsyncEngine,
    owner: str,
    prepared: Prepared,
    *,
    keep_ids: bool = True,
    limits: FileLimits | None = None,
) -> str | None:
    """Write a prepared conversation for `owner` in one transaction; its id, or None when it
    is already here (imported before). `keep_ids` False: a copy (new ids, never skipped)."""
    try:
        return await _write(engine, owner, prepared, keep_ids, keep_ids, limits)
    except IntegrityError:
        if not keep_ids:
            raise
        # Under the owner's lock none of the owner's own imports collides: another owner
        # imported the same file at the same moment and took its ids. Again, under new ids.
        return await _write(engine, owner, prepared, True, False, limits)


async def _write(
    engine: AsyncEngine,
    owner: str,
    prepared: Prepared,
    keep_ids: bool,
    may_keep: bool,
    limits: FileLimits | None,
) -> str | None:
    conv = prepared.conversation
    key = conv.source if conv.source else f"parley:{conv.id}"
    async with write(engine) as conn:
        if keep_ids:
            # Whether it is here already is decided under the owner's lock (PostgreSQL; on
            # SQLite every write is serial): two imports of one file at once cannot both
            # find it missing.
            await lock_key(conn, f"import:{owner}")
            if await _already_here(conn, owner, conv.id, key):
                return None
        keep = may_keep and await _ids_free(conn, conv.id, [r["id"] for r in prepared.rows])
        ids = {r["id"]: (r["id"] if keep else new_id()) for r in prepared.rows}
        conversation_id = conv.id if keep else new_id()
        file_ids = await _write_files(conn, owner, prepared, keep, limits)
        await conn.execute(
            conversations.insert().values(
                id=conversation_id,
                owner_id=owner,
                title=_title(conv.title),
                title_source=conv.title_source,
                current_leaf_id=ids[prepared.leaf] if prepared.leaf else None,
                pinned=conv.pinned,
                archived=conv.archived,
                model=conv.model,
                instructions=conv.instructions or None,
                tools_off=sorted(set(conv.tools_off)) or None,
                # Keyed by where it came from, unless its own id says it (kept) or it is a
                # copy (never skipped).
                import_key=(conv.source or (None if keep else key)) if keep_ids else None,
                created_at=as_utc(conv.created_at),
                updated_at=as_utc(conv.updated_at),
            )
        )
        rows = [
            _renamed(r, conversation_id, ids, file_ids, prepared.sends[r["id"]])
            for r in prepared.rows
        ]
        if rows:
            await conn.execute(messages.insert(), rows)
        links = [
            {"message_id": ids[m], "file_id": file_ids[f]}
            for m, sent in prepared.sends.items()
            for f in dict.fromkeys(sent)
            if f in file_ids
        ]
        if links:
            await conn.execute(message_files.insert(), links)
    return conversation_id


async def _already_here(conn: AsyncConnection, owner: str, conversation_id: str, key: str) -> bool:
    c = conversations.c
    found = await conn.scalar(
        sa.select(c.id)
        .where(c.owner_id == owner, sa.or_(c.id == conversation_id, c.import_key == key))
        .limit(1)
    )
    return found is not None


async def _ids_free(conn: AsyncConnection, conversation_id: str, message_ids: list[str]) -> bool:
    """Whether the conversation's own ids are free in this database (a conversation of another
    owner, imported from the same file, has them)."""
    taken = sa.select(conversations.c.id).where(conversations.c.id == conversation_id)
    if await conn.scalar(taken):
        return False
    for start in range(0, len(message_ids), _SLICE):
        chunk = message_ids[start : start + _SLICE]
        if await conn.scalar(sa.select(messages.c.id).where(messages.c.id.in_(chunk)).limit(1)):
            return False
    return True


async def _write_files(
    conn: AsyncConnection,
    owner: str,
    prepared: Prepared,
    keep: bool,
    limits: FileLimits | None,
) -> dict[str, str]:
    """Store the files the conversation sends; source id → id here. The same bytes the owner
    already has are that file (stored once per owner); the storage limit is decided under the
    owner's lock, as for an upload."""
    wanted = {f for sent in prepared.sends.values() for f in sent}
    mapped: dict[str, str] = {}
    if not wanted:
        return mapped
    await lock_key(conn, f"files:{owner}")
    # A file the archive does not carry may be one the owner has (a copy of their own share
    # without files); one it does not carry and the owner has not is shown as missing.
    absent = sorted(wanted - prepared.files.keys())
    for start in range(0, len(absent), _SLICE):
        owned_here = await conn.execute(
            sa.select(files.c.id).where(
                files.c.id.in_(absent[start : start + _SLICE]), files.c.owner_id == owner
            )
        )
        mapped |= {i: i for (i,) in owned_here}
    new: list[_File] = []
    for source_id in sorted(wanted & prepared.files.keys()):
        f = prepared.files[source_id]
        existing = await conn.scalar(
            sa.select(files.c.id).where(files.c.owner_id == owner, files.c.sha256 == f.sha256)
        )
        if existing is not None:
            mapped[source_id] = existing
            continue
        if limits is not None and f.size > limits.max_file_bytes:
            raise NotConvertible(f"The file {f.name!r} is larger than a file may be.")
        free = keep and not await conn.scalar(sa.select(files.c.id).where(files.c.id == f.id))
        mapped[source_id] = f.id if free else new_id()
        new.append(f)
    if limits is not None and new:
        used = await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(files.c.size), 0)).where(
                files.c.owner_id == owner
            )
        )
        if int(used or 0) + sum(f.size for f in new) > limits.max_storage:
            raise NotConvertible("Its files would take more storage than you have.")
    if new:
        await conn.execute(
            files.insert(),
            [
                {
                    "id": mapped[f.id],
                    "owner_id": owner,
                    "sha256": f.sha256,
                    "name": f.name,
                    "media_type": f.media_type,
                    "kind": f.kind,
                    "size": f.size,
                    "text": f.text,
                    "data": f.data,
                    "created_at": f.created_at,
                }
                for f in new
            ],
        )
    return mapped


def _renamed(
    row: dict[str, Any],
    conversation_id: str,
    ids: dict[str, str],
    file_ids: dict[str, str],
    sent: Sequence[str],
) -> dict[str, Any]:
    """A prepared message row under its ids here, its files' references with it."""
    out = dict(row)
    out["id"] = ids[row["id"]]
    out["parent_id"] = ids[row["parent_id"]] if row["parent_id"] else None
    out["conversation_id"] = conversation_id
    if not sent:
        return out
    parts: list[dict[str, Any]] = []
    for part in row["parts"]:
        if part.get("type") == "attachment":
            if part["id"] not in file_ids:
                # Not carried by the file and not the owner's: say so rather than link nowhere.
                parts.append(
                    TextPart(text=f"[A file that was not exported: {part['name']}]").model_dump()
                )
                continue
            part = part | {"id": file_ids[part["id"]]}
        parts.append(part)
    out["parts"] = parts
    text = row["model_messages"]
    for old in dict.fromkeys(sent):
        new = file_ids.get(old)
        if new != old:
            # An exact JSON string: only the reference itself matches. A file not carried
            # keeps its old reference, which loads as "no longer stored" (chat/files.py).
            text = text.replace(json.dumps(_FILE_REF + old), json.dumps(_FILE_REF + (new or old)))
    out["model_messages"] = text
    return out


def _title(title: str) -> str:
    title = " ".join(clean_text(title).split())
    if not title:
        return DEFAULT_TITLE
    return title if len(title) <= 200 else title[:199] + "…"


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


async def import_conversation(
    engine: AsyncEngine,
    owner: str,
    conversation: ArchivedConversation,
    *,
    keep_ids: bool = True,
    limits: FileLimits | None = None,
) -> str | None:
    """Check and write one conversation (see `prepare` and `write_prepared`)."""
    return await write_prepared(
        engine, owner, prepare(conversation), keep_ids=keep_ids, limits=limits
    )
