"""Share links: a read-only snapshot of a conversation's current branch at an unguessable id.

A share is a row of `shares` holding the branch as Parley JSON (chat/archive/format.py), taken
when the owner shares and taken again, under the same id, when they update it. The share id
is the only thing a viewer holds: it is 128 random bits (db/ids.py), it names that snapshot and
nothing else (no query here reaches the owner's live conversation, messages or files through
it), and every read goes to the database, never to a copy kept in memory, so a revoked share is
gone at once for every process.

What a snapshot leaves out of the owner's conversation: its own instructions, the MCP servers
it switched off, pinned / archived and where it was imported from (settings of the owner's,
not part of what was said); and the files' bytes unless the owner chose to include them. A
reply still being written when shared is kept as it was saved, marked `generating` (the page
says so); a copy made from the snapshot has it `interrupted` (the importer's rule: nothing
generates it).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db.clock import as_utc, now
from ..db.engine import write
from ..db.ids import new_id
from ..db.tables import messages, shares
from ..render import sanitize
from .archive.export import archived
from .archive.format import ArchivedConversation, ArchivedFile
from .archive.importer import FileLimits, prepare, write_prepared
from .models import Message, Part, TextPart
from .rows import conversation_row


@dataclass(frozen=True)
class Share:
    """A share as its owner sees it."""

    id: str
    conversation_id: str
    title: str
    include_files: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Shared:
    """A share as a viewer sees it: the snapshot, and when it was taken."""

    id: str
    title: str
    include_files: bool
    shared_at: datetime
    conversation: ArchivedConversation

    def messages(self) -> list[Message]:
        """The snapshot's messages as the API sends messages (`Message.wire()`), under the
        share's id rather than the owner's conversation id."""
        return [
            Message(
                id=m.id,
                conversation_id=self.id,
                parent_id=m.parent_id,
                role=m.role,
                text=m.text,
                parts=[_resanitized(p) for p in m.parts],
                status=m.status,
                error=m.error,
                model=m.model,
                created_at=as_utc(m.created_at),
                siblings=[m.id],
            )
            for m in self.conversation.messages
        ]

    def file(self, file_id: str) -> ArchivedFile | None:
        """A file of the snapshot, only if the owner included files."""
        if not self.include_files:
            return None
        return next((f for f in self.conversation.files if f.id == file_id), None)


class Shares:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def put(
        self, owner: str, conversation_id: str, *, include_files: bool
    ) -> tuple[Share, bool] | None:
        """Share the owner's conversation as it is now, or refresh its share under the same id;
        the share and whether it is new. None: no such conversation of the owner's."""
        stamp = now()
        async with write(self.engine) as conn:
            # Locked (PostgreSQL; SQLite writes one at a time): two PUTs at once, through any
            # processes, make one share, and the snapshot is the branch as this moment has it.
            if await conversation_row(conn, owner, conversation_id, for_update=True) is None:
                return None
            # Asked before the export: a reply that ends in between is then exported as the
            # complete reply it has become, never marked as still being written.
            generating = await _generating(conn, conversation_id)
            conversation = await archived(
                conn, owner, conversation_id, branch_only=True, with_files=include_files
            )
            if conversation is None:
                return None
            snapshot = _snapshot(conversation, generating)
            values = {
                "title": conversation.title[:200],
                "snapshot": snapshot,
                "include_files": include_files,
                "updated_at": stamp,
            }
            existing = (
                (await conn.execute(sa.select(*_LISTED).where(_of(owner, conversation_id))))
                .mappings()
                .first()
            )
            if existing is not None:
                await conn.execute(
                    shares.update().where(shares.c.id == existing["id"]).values(**values)
                )
                return _share(dict(existing) | values), False
            row = {
                "id": new_id(),
                "owner_id": owner,
                "conversation_id": conversation_id,
                "created_at": stamp,
                **values,
            }
            await conn.execute(shares.insert().values(**row))
        return _share(row), True

    async def get(self, owner: str, conversation_id: str) -> Share | None:
        """The share of the owner's conversation, if it is shared."""
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(sa.select(*_LISTED).where(_of(owner, conversation_id))))
                .mappings()
                .first()
            )
        return _share(row) if row else None

    async def owned_by(self, owner: str) -> list[Share]:
        """The owner's shares, the most recently shared or updated first."""
        c = shares.c
        query = (
            sa.select(*_LISTED)
            .where(c.owner_id == owner)
            .order_by(c.updated_at.desc(), c.id.desc())
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_share(r) for r in rows]

    async def revoke(self, owner: str, share_id: str) -> bool:
        """End the share: its page and files answer 404 from now on, in every process."""
        async with write(self.engine) as conn:
            result = await conn.execute(
                shares.delete().where(shares.c.id == share_id, shares.c.owner_id == owner)
            )
        return bool(result.rowcount)

    async def shared(self, share_id: str) -> Shared | None:
        """The snapshot a share id names, for whoever holds the id (the caller decides who
        may view). Read from the database on every call: a revoked share is gone at once."""
        if len(share_id) > _ID_LENGTH:
            return None
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(sa.select(shares).where(shares.c.id == share_id)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        # Parsing a snapshot with files' bytes is CPU work of its size: off the event loop.
        conversation = await asyncio.to_thread(
            ArchivedConversation.model_validate_json, row["snapshot"]
        )
        return Shared(
            id=row["id"],
            title=row["title"],
            include_files=bool(row["include_files"]),
            shared_at=as_utc(row["updated_at"]),
            conversation=conversation,
        )

    async def file(self, share_id: str, file_id: str) -> ArchivedFile | None:
        """A file of the snapshot, only if the owner included files (else None, as for a file
        the snapshot does not hold: the share reaches no other file)."""
        if len(share_id) > _ID_LENGTH:
            return None
        query = sa.select(shares.c.snapshot).where(
            shares.c.id == share_id, shares.c.include_files.is_(True)
        )
        async with self.engine.connect() as conn:
            snapshot = await conn.scalar(query)
        if snapshot is None:
            return None
        return await asyncio.to_thread(_file_of, snapshot, file_id)

    async def continue_in(
        self, viewer: str, share_id: str, limits: FileLimits | None = None
    ) -> str | None:
        """Copy the snapshot into the viewer's conversations: new ids for everything, so the
        copy shares nothing with the original (changing, deleting or revoking it later leaves
        the copy as it is). Its files come along only if the owner included them, stored as
        the viewer's under `limits`. The new conversation's id; None: no such share."""
        found = await self.shared(share_id)
        if found is None:
            return None
        stamp = now()
        # A new conversation of the viewer's: listed as theirs from now, not at the owner's
        # dates.
        copy = found.conversation.model_copy(update={"created_at": stamp, "updated_at": stamp})
        prepared = await asyncio.to_thread(prepare, copy)
        return await write_prepared(self.engine, viewer, prepared, keep_ids=False, limits=limits)


# Share ids are 22 characters (db/ids.py), at most the column's 32: longer ones name nothing.
_ID_LENGTH = 32
# A share's listing reads everything but the snapshot, which may be megabytes.
_LISTED = [c for c in shares.c if c.name != "snapshot"]


def _of(owner: str, conversation_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(shares.c.conversation_id == conversation_id, shares.c.owner_id == owner)


def _share(row: Any) -> Share:
    return Share(
        id=row["id"],
        conversation_id=row["conversation_id"],
        title=row["title"],
        include_files=bool(row["include_files"]),
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
    )


async def _generating(conn: AsyncConnection, conversation_id: str) -> set[str]:
    """The conversation's messages being written now (its reply in progress, if any)."""
    c = messages.c
    # By status alone, as chat/tree.py's is_generating: the status index answers.
    found = await conn.execute(sa.select(c.id, c.conversation_id).where(c.status == "generating"))
    return {message_id for message_id, owner in found if owner == conversation_id}


def _snapshot(conversation: ArchivedConversation, generating: set[str]) -> str:
    """The snapshot's JSON text: the branch, without the owner's own settings."""
    shown = conversation.model_copy(
        update={
            "instructions": None,
            "tools_off": [],
            "pinned": False,
            "archived": False,
            "source": None,
            "messages": [
                # The export writes a reply in progress as `interrupted`; the page says it was
                # still being written instead (see the module's docstring).
                m.model_copy(update={"status": "generating"})
                if m.id in generating and m.status == "interrupted"
                else m
                for m in conversation.messages
            ],
        }
    )
    body = shown.model_dump(mode="json", exclude={"files"})
    body["files"] = [f.to_json() for f in shown.files]
    return json.dumps(body, ensure_ascii=False)


def _file_of(snapshot: str, file_id: str) -> ArchivedFile | None:
    # Only the one file's bytes are decoded, not every file the snapshot carries.
    for found in json.loads(snapshot).get("files", []):
        if found.get("id") == file_id:
            return ArchivedFile.model_validate(found)
    return None


def _resanitized(part: Part) -> Part:
    # A reply's HTML was sanitized when it was written (render.py, or the importer for an
    # imported one). It is cleaned once more on its way to someone other than its author:
    # a share is the one place one user's stored HTML reaches another user's browser.
    if isinstance(part, TextPart) and part.html is not None:
        return TextPart(text=part.text, html=sanitize(part.html))
    return part
