"""A conversation's message tree: parent links, branches, and the versions at each position.

Editing a prompt or regenerating a reply adds a sibling (a child of the same parent); the
conversation's `current_leaf_id` says which branch is shown, and sent to the model.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db.tables import messages


@dataclass(frozen=True)
class Tree:
    """The shape of a conversation's message tree (ids only, no text)."""

    parent: dict[str, str | None]
    seq: dict[str, int]
    max_seq: int
    generating: bool
    # Each parent's children (None: the roots), in the order they were written.
    children: dict[str | None, list[str]] = field(default_factory=dict)

    def branch(self, leaf_id: str | None) -> list[str]:
        """Message ids from the root to `leaf_id`, following parent links."""
        path: list[str] = []
        node = leaf_id
        while node is not None and node in self.parent:
            path.append(node)
            node = self.parent[node]
        path.reverse()
        return path

    def siblings(self, message_id: str) -> list[str]:
        """The versions at `message_id`'s position, itself included, oldest first."""
        return self.children.get(self.parent.get(message_id), [message_id])

    def newest_leaf(self, message_id: str) -> str:
        """The leaf reached from `message_id` by always taking the newest child: switching to a
        version shows the latest conversation that followed it."""
        node = message_id
        while kids := self.children.get(node):
            node = kids[-1]
        return node


async def load_tree(conn: AsyncConnection, conversation_id: str) -> Tree:
    c = messages.c
    rows = await conn.execute(
        sa.select(c.id, c.parent_id, c.seq, c.status).where(c.conversation_id == conversation_id)
    )
    parent: dict[str, str | None] = {}
    seq: dict[str, int] = {}
    children: defaultdict[str | None, list[tuple[int, str]]] = defaultdict(list)
    generating = False
    for message_id, parent_id, number, status in rows:
        parent[message_id] = parent_id
        seq[message_id] = number
        children[parent_id].append((number, message_id))
        generating = generating or status == "generating"
    ordered = {key: [i for _, i in sorted(kids)] for key, kids in children.items()}
    return Tree(parent, seq, max(seq.values(), default=0), generating, ordered)


# -- What starting a turn needs, each in one indexed query (never the whole tree) -----------


async def is_generating(conn: AsyncConnection, conversation_id: str) -> bool:
    c = messages.c
    # By status alone, so that the status index answers: few messages are generating at any
    # time, while with the conversation in the query SQLite (without statistics) walks all of
    # that conversation's messages instead.
    found = await conn.execute(sa.select(c.conversation_id).where(c.status == "generating"))
    return any(owner == conversation_id for (owner,) in found)


async def max_seq(conn: AsyncConnection, conversation_id: str) -> int:
    c = messages.c
    found = await conn.scalar(
        sa.select(sa.func.max(c.seq)).where(c.conversation_id == conversation_id)
    )
    return int(found or 0)


async def children_of(
    conn: AsyncConnection, conversation_id: str, parent_id: str | None
) -> list[str]:
    """The messages under `parent_id` (the roots, for None), oldest first: the versions at
    that position."""
    c = messages.c
    if parent_id is None:
        query = sa.select(c.id, c.conversation_id).where(
            c.conversation_id == conversation_id, c.parent_id.is_(None)
        )
    else:
        # By parent alone (ids are unique across conversations), so that the parent index
        # answers: with the conversation in the query SQLite (without statistics) walks all
        # of that conversation's messages instead.
        query = sa.select(c.id, c.conversation_id).where(c.parent_id == parent_id)
    rows = await conn.execute(query.order_by(c.seq))
    return [message_id for message_id, owner in rows if owner == conversation_id]
