"""What files cost a stored conversation: `python -m bench.files`.

Two conversations of ten turns on a SQLite file, answered by a FunctionModel: one sends a
different 1 MB PNG (noise, so it does not compress) with each prompt, the other the same
prompts alone. Reported per conversation: the bytes of its messages' `model_messages` (the
JSON every history load reads), of its files in the `files` table, and their sum; and, for
comparison, what the same JSON would weigh with the bytes inline (base64), as Pydantic AI
dumps a history when nothing keeps them apart.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic_ai.messages import ModelMessagesTypeAdapter
from tests.support.client import new_conversation
from tests.support.databases import sqlite_url
from tests.support.files import Recorder, big_png, send_files, uploaded

from parley.app import create_app
from parley.db.tables import files, message_files, messages
from parley.settings import Settings

from .table import table

TURNS = 10
IMAGE_BYTES = 1_000_000


def _sizes(client: TestClient, cid: str) -> tuple[int, int]:
    """(bytes of the conversation's model_messages, bytes of the files it sent)."""
    engine = client.app.state.services.store.engine  # type: ignore[attr-defined]

    async def query() -> tuple[int, int]:
        async with engine.connect() as conn:
            json_bytes = await conn.scalar(
                sa.select(
                    sa.func.coalesce(sa.func.sum(sa.func.length(messages.c.model_messages)), 0)
                ).where(messages.c.conversation_id == cid)
            )
            sent = (
                sa.select(message_files.c.file_id)
                .join(messages, messages.c.id == message_files.c.message_id)
                .where(messages.c.conversation_id == cid)
            )
            file_bytes = await conn.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(files.c.size), 0)).where(
                    files.c.id.in_(sent)
                )
            )
            return int(json_bytes or 0), int(file_bytes or 0)

    result: tuple[int, int] = client.portal.call(query)  # type: ignore[union-attr]
    return result


def main() -> None:
    recorder = Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=sqlite_url(Path(tmp) / "parley.db"),
            generate_titles=False,
            max_storage_per_user=100_000_000,
        )
        app = create_app(settings, agent=recorder.agent())
        with TestClient(app, base_url="http://localhost") as client:
            plain, with_files = new_conversation(client), new_conversation(client)
            for turn in range(TURNS):
                prompt = f"Turn {turn}: what is in this picture?"
                send_files(client, plain, prompt, [])
                image = uploaded(client, f"photo{turn}.png", big_png(IMAGE_BYTES))
                send_files(client, with_files, prompt, [image])
            # The history the model got on the last turn, bytes and all, dumped as is.
            inline: Any = ModelMessagesTypeAdapter.dump_json(recorder.calls[-1])
            rows = []
            for name, cid in (
                ("10 turns, no files", plain),
                ("10 turns, ten 1 MB PNGs", with_files),
            ):
                json_bytes, file_bytes = _sizes(client, cid)
                rows.append(
                    [name, f"{json_bytes:,}", f"{file_bytes:,}", f"{json_bytes + file_bytes:,}"]
                )
            rows.append(
                ["  the same JSON with bytes inline", f"{len(inline):,}", "0", f"{len(inline):,}"]
            )
    print("\n".join(table(["conversation", "model_messages B", "files B", "total B"], rows)))


if __name__ == "__main__":
    main()
