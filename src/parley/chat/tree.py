"""A conversation's message tree: parent links, and walking a branch from its leaf to the root."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db.tables import messages


@dataclass(frozen=True)
class Tree:
    """The shape of a conversation's message tree: enough to find a branch and the next seq."""

    parent: dict[str, str | None]
    max_seq: int
    generating: bool

    def branch(self, leaf_id: str | None) -> list[str]:
        """Message ids from the root to `leaf_id`, following parent links."""
        path: list[str] = []
        node = leaf_id
        while node is not None and node in self.parent:
            path.append(node)
            node = self.parent[node]
        path.reverse()
        return path


async def load_tree(conn: AsyncConnection, conversation_id: str) -> Tree:
    c = messages.c
    rows = await conn.execute(
        sa.select(c.id, c.parent_id, c.seq, c.status).where(c.conversation_id == conversation_id)
    )
    parent: dict[str, str | None] = {}
    max_seq = 0
    generating = False
    for message_id, parent_id, seq, status in rows:
        parent[message_id] = parent_id
        max_seq = max(max_seq, seq)
        generating = generating or status == "generating"
    return Tree(parent, max_seq, generating)
