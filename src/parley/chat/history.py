"""The model history of a branch: Pydantic AI's messages, read in one validation pass and cached.

Each message row keeps Pydantic AI's own JSON for its turn; a branch's history is those arrays
concatenated. The last history read or written per conversation is kept, keyed by its leaf: the
next turn's history is the previous one plus that turn's messages, so a long conversation is not
read and validated again on every turn. A leaf that moved (in another process, or a new branch)
misses the cache and reads the database.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence

import sqlalchemy as sa
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
from pydantic_core import PydanticSerializationError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db.tables import messages
from .files import strip_bytes
from .text import clean_json


def dump_messages(model_messages: Sequence[ModelMessage]) -> str:
    # Attached files are stored once, apart (chat/files.py): the JSON keeps a reference.
    return ModelMessagesTypeAdapter.dump_json(strip_bytes(model_messages)).decode()


def dump_clean(model_messages: Sequence[ModelMessage]) -> tuple[str, list[ModelMessage]]:
    """Pydantic AI's JSON for `model_messages`, and the messages that JSON loads back as.

    What a provider or a tool sent may hold text that cannot be stored (a lone surrogate
    cannot be encoded as UTF-8): such strings are cleaned (chat.text.clean_text) rather than
    losing the whole reply.
    """
    try:
        return dump_messages(model_messages), list(model_messages)
    except (ValueError, PydanticSerializationError):
        stripped = strip_bytes(model_messages)
        data = clean_json(ModelMessagesTypeAdapter.dump_python(stripped, mode="json"))
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return text, ModelMessagesTypeAdapter.validate_json(text)


async def read_history(conn: AsyncConnection, path: list[str]) -> list[ModelMessage]:
    """The model messages of the message ids in `path` (root first), validated in one pass.

    A prompt whose reply holds no response (it failed before the model answered, or it is
    still being generated) is left out with it: the model never receives a question it did
    not answer followed by the next one (user, user, user after two failures).
    """
    if not path:
        return []
    m = messages.c
    rows = await conn.execute(sa.select(m.id, m.role, m.model_messages).where(m.id.in_(path)))
    stored = {message_id: (role, data.strip()) for message_id, role, data in rows}
    roles = [stored.get(i, ("", "[]"))[0] for i in path]
    kept = [stored.get(i, ("", "[]"))[1] for i in path]
    for i, role in enumerate(roles):
        answered = i + 1 < len(path) and roles[i + 1] == "assistant" and kept[i + 1] != "[]"
        if role == "user" and not answered:
            kept[i] = "[]"
    # One validation pass over the whole branch: join the stored JSON arrays into one.
    chunks = [chunk[1:-1] for chunk in kept if chunk != "[]"]
    return ModelMessagesTypeAdapter.validate_json("[" + ",".join(chunks) + "]")


class HistoryCache:
    """The last branch history per conversation, keyed by its leaf; least recently used out."""

    def __init__(self, size: int = 64) -> None:
        self._entries: OrderedDict[str, tuple[str, list[ModelMessage]]] = OrderedDict()
        self._size = size

    def get(self, conversation_id: str, leaf_id: str | None) -> list[ModelMessage] | None:
        if leaf_id is None:
            return []
        entry = self._entries.get(conversation_id)
        if entry is None or entry[0] != leaf_id:
            return None
        self._entries.move_to_end(conversation_id)
        return list(entry[1])

    def put(self, conversation_id: str, leaf_id: str, history: list[ModelMessage]) -> None:
        # Without the bytes of attached files, as stored: 64 conversations with images would
        # otherwise hold their every image in memory. A turn puts them back (chat/files.py).
        self._entries[conversation_id] = (leaf_id, strip_bytes(history))
        self._entries.move_to_end(conversation_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        self._entries.pop(conversation_id, None)
