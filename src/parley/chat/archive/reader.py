"""Reading an export file of any size as a stream, and importing it conversation by conversation.

A file is read three times, never whole: a first pass checks that it is JSON to its last byte
and not nested absurdly deep, so a truncated or broken file is refused before anything is
written; a peek at its first keys says what it is (Parley JSON, ChatGPT's or Claude's
`conversations.json`, or one conversation of either); then its conversations are read one at
a time, each converted and checked in a worker thread and written in its own transaction.
Memory holds a few conversations at a time, however large the file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, Literal

import ijson  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncEngine

from .chatgpt import from_chatgpt
from .claude import from_claude
from .errors import NotConvertible
from .format import FORMAT, VERSION, ArchivedConversation
from .importer import FileLimits, Prepared, prepare, validate, write_prepared

Kind = Literal["parley", "chatgpt", "claude"]
# Conversations converted per trip to the worker thread: a trip costs a thread hand-off, a
# batch holds its conversations in memory.
_BATCH = 8
# Refusals listed in an answer (all are counted): a file of a million broken conversations
# does not make a million-line answer.
_REFUSALS_LISTED = 100


_SCALARS = ("string", "number", "boolean", "null")
# Deeper than any export Parley, ChatGPT or Claude writes (a tool's arguments nest a few
# levels inside a message's parts); what is deeper is refused before it is parsed further.
_MAX_DEPTH = 128


class Unreadable(Exception):
    """A file that cannot be imported at all (a 422 with `detail`); nothing was written."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Shape:
    kind: Kind
    # Where its conversations are (an ijson prefix): "" for a file of one conversation.
    prefix: str
    # The ijson backend that reads it: the C one, or the pure Python one for a file the C one
    # cannot decode (see `shape`).
    backend: Any = ijson


@dataclass
class Outcome:
    format: Kind
    imported: int = 0
    skipped: int = 0
    refused: int = 0
    conversation_ids: list[str] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)


class _Counting:
    """A file that counts the bytes read from it: where a parse error is, roughly."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self.read_bytes += len(data)
        return data


def shape(f: BinaryIO) -> Shape:
    """What the file is, from its first keys, and that it is JSON to its end. Unreadable
    otherwise. Leaves `f` at its start."""
    backend: Any = ijson
    try:
        try:
            version = _check(f, backend)
        except UnicodeDecodeError:
            # ijson's C parser turns an escaped lone surrogate ("\\ud800", which JSON allows
            # and a broken emoji leaves) into bytes it then cannot decode. The pure Python
            # parser reads it as the str it is, which import cleans. Slower: only for such files.
            backend = ijson.get_backend("python")
            f.seek(0)
            version = _check(f, backend)
        f.seek(0)
        found = replace(_peek(f, backend), backend=backend)
    finally:
        f.seek(0)
    if found.kind == "parley" and found.prefix and version != VERSION:
        raise Unreadable(
            f"This is Parley JSON version {version}; this Parley reads version {VERSION}."
        )
    return found


def _check(f: BinaryIO, backend: Any) -> object:
    """Read the whole file once, without building anything: that it is JSON to its last byte
    and nested at most _MAX_DEPTH deep; the value of its top-level "version", if any.

    The depth is checked before anything else reads the file: ijson's parser with prefixes
    (`parse`, `items`) builds a prefix string per level, so a file nested 100,000 deep would
    cost memory in the square of its depth (gigabytes from a few hundred kilobytes).
    """
    counting = _Counting(f)
    depth = 0
    version: object = None
    pending: object = None
    try:
        for event, value in backend.basic_parse(counting):
            if event == "map_key":
                pending = value if depth == 1 else None
                continue
            if event in ("start_map", "start_array"):
                depth += 1
                if depth > _MAX_DEPTH:
                    raise Unreadable(
                        f"The file is nested more than {_MAX_DEPTH} levels deep "
                        f"(within its first {counting.read_bytes:,} bytes). Nothing was imported."
                    )
            elif event in ("end_map", "end_array"):
                depth -= 1
            elif pending == "version":
                version = value
            pending = None
    except ijson.JSONError as exc:
        raise Unreadable(_json_problem(exc, counting.read_bytes)) from exc
    return version


def _peek(f: BinaryIO, backend: Any) -> Shape:
    counting = _Counting(f)
    try:
        events = backend.parse(counting)
        for prefix, event, value in events:
            if prefix == "" and event == "start_array":
                return _array_shape(events)
            if prefix == "" and event == "map_key":
                if value == "format":
                    _, _, name = next(events)
                    if name != FORMAT:
                        raise Unreadable(f"This file is {name!r}, not Parley JSON.")
                elif value == "conversations":
                    return Shape("parley", "conversations.item")
                elif value == "mapping":
                    return Shape("chatgpt", "")
                elif value == "chat_messages":
                    return Shape("claude", "")
            elif prefix == "" and event in ("end_map", *_SCALARS):
                break
    except ijson.JSONError as exc:
        raise Unreadable(_json_problem(exc, counting.read_bytes)) from exc
    raise Unreadable(
        "This is not an export Parley knows: expected Parley JSON, or ChatGPT's or "
        "Claude's conversations.json."
    )


def _array_shape(events: Iterator[tuple[str, str, Any]]) -> Shape:
    """A top-level list: ChatGPT's or Claude's, by its first conversation's keys."""
    for prefix, event, value in events:
        if prefix == "item" and event == "map_key":
            if value == "mapping":
                return Shape("chatgpt", "item")
            if value == "chat_messages":
                return Shape("claude", "item")
        elif prefix == "item" and event in ("end_map", "start_array", *_SCALARS):
            break  # the first item has neither key, or is not an object at all
        elif prefix == "" and event == "end_array":
            raise Unreadable("There are no conversations in this file.")
    raise Unreadable(
        "This list is not ChatGPT's or Claude's conversations.json: its first item has "
        "neither a mapping nor chat_messages."
    )


def _json_problem(exc: Exception, position: int) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "not JSON"
    if "premature EOF" in reason:
        return "The file ends in the middle of its JSON (is it cut short?). Nothing was imported."
    return (
        f"The file is not valid JSON ({reason}, within its first {position:,} bytes). "
        "Nothing was imported."
    )


_CONVERTERS: dict[Kind, Callable[[Any], ArchivedConversation]] = {
    "parley": validate,
    "chatgpt": from_chatgpt,
    "claude": from_claude,
}


def _converted(kind: Kind, raw: Any) -> Prepared | NotConvertible:
    try:
        if not isinstance(raw, dict):
            raise NotConvertible("It is not a JSON object.")
        return prepare(_CONVERTERS[kind](raw))
    except NotConvertible as exc:
        return exc
    except RecursionError:
        return NotConvertible("It is nested too deeply to read.")


def _next(items: Iterator[Any], kind: Kind) -> list[tuple[Any, Prepared | NotConvertible]]:
    """The next conversations of the file, converted and checked (in a worker thread)."""
    batch = []
    for raw in items:
        batch.append((_title_of(raw), _converted(kind, raw)))
        if len(batch) == _BATCH:
            break
    return batch


def _title_of(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    for key in ("title", "name"):
        value = raw.get(key)
        if isinstance(value, str):
            return value[:200]
    return None


async def import_file(
    engine: AsyncEngine, owner: str, f: BinaryIO, *, limits: FileLimits | None = None
) -> Outcome:
    """Import every conversation of the file `f` for `owner`: each whole or not at all, those
    already here skipped. Unreadable (before anything is written) for a file that is not one."""
    found = await asyncio.to_thread(shape, f)
    outcome = Outcome(format=found.kind)
    items = iter(found.backend.items(f, found.prefix, use_float=True))
    index = 0
    # The next batch is read and checked in its thread while this one is written: SQLite and
    # asyncpg do their work without the GIL, so the two overlap.
    ahead = asyncio.ensure_future(asyncio.to_thread(_next, items, found.kind))
    try:
        while batch := await ahead:
            ahead = asyncio.ensure_future(asyncio.to_thread(_next, items, found.kind))
            for title, checked in batch:
                written = (
                    checked
                    if isinstance(checked, NotConvertible)
                    else await _write(engine, owner, checked, limits)
                )
                _count(outcome, index, title, written)
                index += 1
    finally:
        # The thread reads `f`: it must be done before the caller closes it.
        await asyncio.gather(ahead, return_exceptions=True)
    return outcome


def _count(
    outcome: Outcome, index: int, title: str | None, result: str | NotConvertible | None
) -> None:
    if isinstance(result, NotConvertible):
        outcome.refused += 1
        if len(outcome.refusals) < _REFUSALS_LISTED:
            outcome.refusals.append({"index": index, "title": title, "detail": str(result)})
    elif result is None:
        outcome.skipped += 1
    else:
        outcome.imported += 1
        outcome.conversation_ids.append(result)


async def _write(
    engine: AsyncEngine, owner: str, prepared: Prepared, limits: FileLimits | None
) -> str | NotConvertible | None:
    try:
        return await write_prepared(engine, owner, prepared, limits=limits)
    except NotConvertible as exc:
        return exc
