"""The store on a real SQLite file and PostgreSQL: migrations, odd message shapes, cascades."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from parley.chat.store import Fresh, Store
from parley.db.migrate import upgrade
from parley.db.tables import metadata, outside_metadata
from parley.runs.store import RunStore

from ..support.databases import engine_on


def _compare_type(
    context: MigrationContext,
    _inspected_column: Any,
    _metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """SQLite ignores a VARCHAR's length, and widening one there would mean batch mode
    (copying the table): migrations widen columns on PostgreSQL only (0008), so on SQLite two
    strings of different lengths are the same type. Otherwise Alembic's own comparison."""
    if (
        context.dialect.name == "sqlite"
        and isinstance(inspected_type, sa.String)
        and isinstance(metadata_type, sa.String)
    ):
        return False
    return None


def test_an_empty_database_migrates_to_the_schema_of_the_tables(database_url: str) -> None:
    async def check() -> None:
        async with engine_on(database_url) as engine:
            await upgrade(engine)
            await upgrade(engine)  # idempotent
            async with engine.connect() as conn:
                # The search index differs by database and is not in the metadata.
                opts: dict[str, Any] = {
                    "include_object": lambda _o, n, t, _r, _c: not outside_metadata(n, t),
                    "compare_type": _compare_type,
                }
                diff = await conn.run_sync(
                    lambda c: compare_metadata(MigrationContext.configure(c, opts=opts), metadata)
                )
                tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
                sqlite = engine.dialect.name == "sqlite"
                mode = await conn.scalar(sa.text("PRAGMA journal_mode")) if sqlite else None
        assert diff == []
        if sqlite:
            assert mode == "wal"
        assert {"conversations", "messages", "alembic_version"} <= tables

    asyncio.run(check())


def test_every_message_shape_loads_back_as_history(database_url: str) -> None:
    odd_turn: list[ModelMessage] = [
        ModelResponse(
            parts=[
                ThinkingPart(content="hmm"),
                TextPart(content="Let me look."),
                ToolCallPart(tool_name="lookup", args={"q": "x"}, tool_call_id="c1"),
            ]
        ),
        ModelRequest(
            parts=[
                ToolReturnPart(
                    tool_name="lookup", content="bad args", tool_call_id="c1", outcome="retried"
                )
            ]
        ),
        ModelResponse(
            parts=[ToolCallPart(tool_name="lookup", args='{"q": "y"}', tool_call_id="c2")]
        ),
        ModelRequest(
            parts=[ToolReturnPart(tool_name="lookup", content={"a": 1}, tool_call_id="c2")]
        ),
        ModelResponse(parts=[TextPart(content="Found it.")]),
    ]

    async def check() -> None:
        async with engine_on(database_url) as engine:
            await upgrade(engine)
            store = Store(engine)
            conv = await store.create_conversation("me")
            request = ModelRequest(parts=[UserPromptPart("find x")])
            turn = await store.start_turn("me", conv.id, Fresh("find x", [request]), "run1", "m")
            assert turn is not None
            await store.finish_turn(
                turn,
                user_request=None,
                response_messages=odd_turn,
                parts=[],
                status="complete",
                error=None,
                usage=None,
            )
            page = await store.list_messages("me", conv.id, 10)
            assert page is not None and len(page.items) == 2
            second = await store.start_turn("me", conv.id, Fresh("more", [request]), "run2", "m")
            assert second is not None
            assert [type(m) for m in second.history] == [ModelRequest, *[type(m) for m in odd_turn]]
            assert second.history[1:] == odd_turn
            # Another owner sees nothing, and deleting cascades.
            assert await store.get_conversation("someone else", conv.id) is None
            assert await store.list_messages("someone else", conv.id, 10) is None
            assert await store.delete_conversation("me", conv.id)
            async with engine.connect() as conn:
                left = await conn.scalar(sa.text("SELECT count(*) FROM messages"))
        assert left == 0

    asyncio.run(check())


def test_replies_left_generating_are_marked_interrupted(database_url: str) -> None:
    async def check() -> None:
        async with engine_on(database_url) as engine:
            await upgrade(engine)
            store = Store(engine)
            conv = await store.create_conversation("me")
            request = ModelRequest(parts=[UserPromptPart("hi")])
            turn = await store.start_turn("me", conv.id, Fresh("hi", [request]), "run1", "m")
            assert turn is not None
            assert await RunStore(engine).interrupt() == 1
            page = await store.list_messages("me", conv.id, 10)
        assert page is not None
        assert [m.status for m in page.items] == ["complete", "interrupted"]

    asyncio.run(check())
