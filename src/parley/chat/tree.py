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
