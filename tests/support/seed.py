"""Long conversations written straight into the database: 2,000 messages in a fraction of a
second, where sending them through a model would take minutes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    TextPart,
    UserPromptPart,
)

from parley.db.clock import now
from parley.db.ids import new_id
from parley.db.tables import conversations, messages

from .databases import engine_on, run_in_thread


def default_text(index: int) -> str:
    return f"Message number {index} of a long conversation."


def seed_conversation(
    database_url: str,
    count: int,
    *,
    owner: str = "local",
    title: str = "A long conversation",
    text: Callable[[int], str] = default_text,
    model_messages: bool = False,
) -> tuple[str, list[str]]:
    """A conversation of `count` messages (prompt, reply, prompt, …: one branch, all complete)
    on an already migrated database; its id and its message ids, oldest first. With
    `model_messages`, each row also holds its Pydantic AI messages (the model's history)."""
    conversation_id = new_id()
    ids = [new_id() for _ in range(count)]
    start = now() - timedelta(seconds=count)
    rows = [
        {
            "id": ids[i],
            "conversation_id": conversation_id,
            "parent_id": ids[i - 1] if i else None,
            "seq": i + 1,
            "role": "user" if i % 2 == 0 else "assistant",
            "text": text(i),
            "parts": [{"type": "text", "text": text(i), "html": None}],
            "model_messages": _model_messages(i, text(i)) if model_messages else "[]",
            "status": "complete",
            "error": None,
            "model": None if i % 2 == 0 else "seed",
            "usage": None,
            "run_id": None,
            "created_at": start + timedelta(seconds=i),
            "updated_at": start + timedelta(seconds=i),
        }
        for i in range(count)
    ]

    async def write() -> None:
        async with engine_on(database_url) as engine, engine.begin() as conn:
            await conn.execute(
                conversations.insert().values(
                    id=conversation_id,
                    owner_id=owner,
                    title=title,
                    title_source="user",
                    current_leaf_id=ids[-1] if ids else None,
                    pinned=False,
                    archived=False,
                    created_at=start,
                    updated_at=now(),
                )
            )
            for i in range(0, len(rows), 500):
                await conn.execute(messages.insert(), rows[i : i + 500])

    run_in_thread(write())
    return conversation_id, ids


def _model_messages(i: int, text: str) -> str:
    """A prompt's request or a reply's response, as Pydantic AI stores them."""
    message: ModelMessage = (
        ModelRequest(parts=[UserPromptPart(text)])
        if i % 2 == 0
        else ModelResponse(parts=[TextPart(text)], model_name="seed")
    )
    return ModelMessagesTypeAdapter.dump_json([message]).decode()
