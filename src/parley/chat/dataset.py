"""An owner's rated replies as a pydantic-evals dataset file, for evaluating a new version of
the agent on what users liked and disliked.

The file is the document `pydantic_evals.Dataset.from_file` reads (its `_DatasetModel`: a
`name` and `cases`, each case `name`, `inputs`, `metadata`, `expected_output`; no evaluators:
the developer adds their own), in JSON or YAML (PyYAML's safe dumper). One case per rated reply:

- `inputs`: `{"prompt": …, "history": [{"role": "user" | "assistant", "text": …}, …]}`, the
  prompt the reply answers and the branch before it as plain text turns (tool calls,
  thinking and files left out, so it stays readable);
- `expected_output`: the reply's text when it was rated good, null when bad;
- `metadata`: `rating`, `comment`, `model` (the one that wrote the reply), `reply` (the text
  of a reply rated bad, what not to answer; null when good, as it is the expected output),
  `conversation_id`, `message_id`, `rated_at`.

Load it with `Dataset[dict, str, dict].from_file(path)`. Written as it is read: a batch of
conversations at a time (chat/feedback.py), each case encoded once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import yaml  # type: ignore[import-untyped]

from .feedback import Feedback, RatedTurn

Format = Literal["json", "yaml"]
NAME = "parley-feedback"
MEDIA_TYPES: dict[Format, str] = {"json": "application/json", "yaml": "application/yaml"}
# How much of the prompt names a case (pydantic-evals' reports list cases by name).
_NAME_CHARS = 60


def case(turn: RatedTurn) -> dict[str, Any]:
    """One rated reply as a case of the dataset."""
    rated = turn.rated
    good = rated.rating == "good"
    return {
        "name": _name(turn),
        "inputs": {
            "prompt": turn.prompt,
            "history": [{"role": t.role, "text": t.text} for t in turn.history],
        },
        "metadata": {
            "rating": rated.rating,
            "comment": rated.comment,
            "model": turn.model,
            "reply": None if good else turn.reply,
            "conversation_id": rated.conversation_id,
            "message_id": rated.message_id,
            "rated_at": rated.updated_at.isoformat(),
        },
        "expected_output": turn.reply if good else None,
    }


async def dataset(feedback: Feedback, owner: str, format: Format = "json") -> AsyncIterator[str]:
    """The owner's rated replies as a dataset document, in pieces."""
    async for piece in document(feedback.rated_turns(owner), format):
        yield piece


def document(batches: AsyncIterator[list[RatedTurn]], format: Format) -> AsyncIterator[str]:
    """Batches of rated replies as a dataset document, in pieces."""
    return _yaml(batches) if format == "yaml" else _json(batches)


async def _json(batches: AsyncIterator[list[RatedTurn]]) -> AsyncIterator[str]:
    yield json.dumps({"name": NAME}, ensure_ascii=False)[:-1] + ', "cases": ['
    first = True
    async for batch in batches:
        if not batch:
            continue
        texts = [json.dumps(case(turn), ensure_ascii=False, indent=2) for turn in batch]
        yield ("\n" if first else ",\n") + ",\n".join(texts)
        first = False
    yield "\n]}\n"


async def _yaml(batches: AsyncIterator[list[RatedTurn]]) -> AsyncIterator[str]:
    head = f"name: {NAME}\n"
    empty = True
    async for batch in batches:
        if not batch:
            continue
        # The batch is the next items of the `cases` sequence: a block sequence may sit at its
        # key's indentation, so the pieces join into one document. Long lines stay whole.
        # Non-ASCII text is written escaped (no allow_unicode): PyYAML's unicode output does
        # not read back line separators (U+2028, U+0085) as written.
        items = yaml.safe_dump([case(turn) for turn in batch], sort_keys=False, width=2**31)
        yield (head + "cases:\n" if empty else "") + items
        empty = False
    if empty:
        yield head + "cases: []\n"


def _name(turn: RatedTurn) -> str:
    # Unique (pydantic-evals refuses a dataset whose cases share a name) by the reply's id,
    # readable by the start of the prompt.
    line = " ".join(turn.prompt.split())
    if len(line) > _NAME_CHARS:
        line = line[: _NAME_CHARS - 1] + "…"
    return f"{line} ({turn.rated.message_id})" if line else turn.rated.message_id
