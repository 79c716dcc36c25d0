"""What of a branch fits in the model's context window, read without reading the rest.

The branch is walked from its leaf towards the root by the database (a recursive query over
`parent_id`), adding up each message's size, and the walk stops once the window is full: a
turn costs the same whether the conversation holds 10 messages or 5,000, warm or just after a
restart. Sizes are estimated from the stored Pydantic AI JSON (about four characters a token,
and JSON's own punctuation counted: an over-estimate, which errs on the side of fitting),
never by tokenizing the history again.

What is cut is whole turns, oldest first: what is sent starts with a prompt, and a reply's
tool calls stay with their results (they are stored in the reply's own JSON).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db.tables import messages

CHARS_PER_TOKEN = 4

# Each step adds a message's stored JSON length; the walk goes on while the total so far is
# within the limit, so it ends one message past it (or at the root).
_WALK = sa.text("""
    WITH RECURSIVE walk(id, parent_id, role, size, total, depth) AS (
        SELECT id, parent_id, role, CAST(length(model_messages) AS BIGINT),
               CAST(length(model_messages) AS BIGINT), 0
        FROM messages WHERE id = :leaf
        UNION ALL
        SELECT m.id, m.parent_id, m.role, CAST(length(m.model_messages) AS BIGINT),
               walk.total + CAST(length(m.model_messages) AS BIGINT), walk.depth + 1
        FROM messages AS m JOIN walk ON m.id = walk.parent_id
        WHERE walk.total <= CAST(:limit AS BIGINT)
    )
    SELECT id, parent_id, role, size FROM walk ORDER BY depth
""")


@dataclass(frozen=True)
class Answering:
    """The model answering a turn and its context window (tokens; None: unknown, the whole
    branch is sent). `reserve`: tokens kept free for the reply; `fixed`: the operator's
    instructions and the agent's own, as tokens."""

    model: str
    window: int | None = None
    reserve: int = 0
    fixed: int = 0

    def history_budget(self, prompt_json: str, instructions: str | None) -> int | None:
        """Tokens the history may take: what the window leaves once the reply's room, the
        instructions and the new prompt are counted."""
        if self.window is None:
            return None
        taken = self.reserve + self.fixed + tokens(len(prompt_json))
        return max(0, self.window - taken - tokens(len(instructions or "")))


@dataclass(frozen=True)
class Window:
    """The ids of a branch to send, root side first; `start` is the first of them when older
    messages were left out (None: the whole branch is sent); `empty`: none of the branch fits
    (the prompt goes alone)."""

    path: list[str]
    start: str | None
    empty: bool = False


def tokens(chars: int) -> int:
    return chars // CHARS_PER_TOKEN + 1


async def _fits_by_provider_count(conn: AsyncConnection, leaf_id: str, budget: int) -> bool:
    """Whether the branch up to the reply `leaf_id` fits in `budget` tokens by the provider's
    count of that reply's input (its first request's, when it made one request: a reply that
    called tools reports the sum of its requests, an over-count that only makes this say no)
    plus an estimate of the reply itself."""
    row = (
        await conn.execute(
            sa.select(messages.c.usage, sa.func.length(messages.c.model_messages)).where(
                messages.c.id == leaf_id
            )
        )
    ).first()
    # A reply sent a cut history: its count is of what was sent, not of the branch.
    if row is None or not isinstance(row[0], dict) or row[0].get("context_cut"):
        return False
    counted = row[0].get("input_tokens")
    if not isinstance(counted, int) or counted <= 0:
        return False
    return counted + tokens(int(row[1] or 0)) <= budget


async def window(conn: AsyncConnection, leaf_id: str | None, budget: int | None) -> Window:
    """The newest whole turns of the branch ending at `leaf_id` whose estimated size stays
    within `budget` tokens (None: the whole branch).

    The provider's own count comes first: the last reply's `input_tokens` is everything up to
    its prompt, as the provider counted it, so with the reply itself it tells whether the whole
    branch still fits, and then it is sent whole. Only past that are the turns that fit
    estimated."""
    if leaf_id is None:
        return Window([], None)
    if budget is not None and await _fits_by_provider_count(conn, leaf_id, budget):
        budget = None
    limit = (budget * CHARS_PER_TOKEN) if budget is not None else 2**62
    rows = (await conn.execute(_WALK, {"leaf": leaf_id, "limit": limit})).all()
    kept: list[str] = []
    pending: list[str] = []
    total = 0
    for message_id, _parent, role, size in rows:
        total += int(size or 0)
        if total > limit:
            break
        pending.append(message_id)
        if role == "user":  # a turn begins here: keep it whole
            kept += pending
            pending = []
    reached_root = bool(rows) and rows[-1][1] is None and len(kept) == len(rows)
    path = kept[::-1]
    return Window(path, None if reached_root or not path else path[0], bool(rows) and not path)
