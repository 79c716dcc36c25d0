"""Conversations and messages in the database: every read and write of them goes through here.

Every method takes the owner and scopes its query by it, so a conversation of another owner
is indistinguishable from one that does not exist.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import TypeAdapter
from pydantic_ai import DeferredToolResults
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelResponse,
    UserContent,
    UserPromptPart,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db.clock import as_utc, now
from ..db.engine import lock_key, write
from ..db.erase import delete_conversations
from ..db.ids import new_id
from ..db.tables import conversations, feedback, messages, runs
from .approvals import Decision, close_unanswered, decide
from .context import Answering, window
from .files import copy_links, link, restore_bytes, stored_prompt
from .history import HistoryCache, dump_clean, dump_messages, read_history
from .models import (
    AttachmentPart,
    Conversation,
    Message,
    Part,
    Status,
    TextPart,
    TitleSource,
    Usage,
)
from .rows import (
    active_run,
    conversation_of,
    conversation_row,
    message_of,
    owned,
    tools_off_of,
)
from .tree import Tree, children_of, is_generating, load_tree, max_seq
from .usage import check_budget, record

# What a message list reads: not the model's messages, the largest column by far and not what
# the UI shows, nor the timings (only the Inspect view reads them, chat/inspect.py).
_LISTED = [c for c in messages.c if c.name not in ("model_messages", "updated_at", "timings")]
PART: TypeAdapter[Part] = TypeAdapter(Part)
DEFAULT_TITLE = "New chat"


def _with_ratings() -> sa.Select[Any]:
    """A message list's columns and the owner's rating of each (chat/feedback.py), by the
    feedback table's primary key: one row per message at most."""
    return sa.select(
        *_LISTED,
        feedback.c.rating.label("feedback_rating"),
        feedback.c.comment.label("feedback_comment"),
    ).select_from(messages.outerjoin(feedback, feedback.c.message_id == messages.c.id))


@dataclass(frozen=True)
class Turn:
    """The rows a turn works on: the user's message (new, or the one whose reply is being
    regenerated) and the assistant's placeholder; the history before the prompt."""

    conversation_id: str
    user: Message
    assistant: Message
    history: list[ModelMessage]
    user_request_json: str
    # The conversation's first prompt, titled from the prompt so far: its reply is followed
    # by the model writing a title.
    first: bool = False
    # False when regenerating: the prompt is the one already stored.
    new_user: bool = True
    # The model answering (the conversation's, as chosen when the turn started) and the
    # conversation's own instructions.
    model: str = ""
    instructions: str | None = None
    owner: str = ""
    # The first message of the history sent when older ones did not fit the window; whether
    # any were left out.
    context_start_id: str | None = None
    context_cut: bool = False
    # The prompt as the model receives it when it is more than its text (files attached);
    # None: the text.
    prompt_content: Sequence[UserContent] | None = None
    # Resuming a reply that waited for tool approvals (Store.resume_turn): the answers, and
    # what the reply already holds (its model messages, parts and usage), which the resumed
    # run adds to.
    resume: DeferredToolResults | None = None
    earlier: tuple[ModelMessage, ...] = ()
    earlier_parts: tuple[Part, ...] = ()
    earlier_usage: Usage | None = None
    # Its timings so far (messages.timings, JSON), which the resumed run's add to.
    earlier_timings: Any = None
    # The whole history the resumed run is given (the branch, the prompt, the reply so far).
    resumed_history: tuple[ModelMessage, ...] = ()
    # The MCP servers the conversation switched off: their tools are not offered.
    tools_off: frozenset[str] = frozenset()


class ConversationBusy(Exception):
    """The conversation already has a reply being generated."""


class TooManyReplies(Exception):
    """The owner already has as many replies generating as allowed."""


class BadCursor(ValueError):
    """A pagination cursor this server did not give out, or that no longer points anywhere."""


class Unset:
    """A field a PATCH did not name (None is a value: back to the default)."""


UNSET = Unset()


class MessageNotFound(LookupError):
    """No such message in this conversation."""


class WrongRole(ValueError):
    """Editing a reply, or regenerating a prompt: the message says which is which."""


class NotAwaiting(Exception):
    """Answering tool calls of a reply that waits for none (any more), or not on the branch
    shown: a 409 with this message."""


@dataclass(frozen=True)
class MessagePage:
    items: list[Message]
    # Pass as `before` for the older messages; as `after` for the newer ones.
    next_cursor: str | None
    newer_cursor: str | None
    # The first message the model receives on the next turn, when older ones do not fit its
    # context window (None: the whole branch is sent); `context_empty`: none of it fits.
    context_start_id: str | None = None
    context_empty: bool = False


@dataclass(frozen=True)
class Fresh:
    """A new prompt, continuing the current branch (`edit_of` None) or replacing one."""

    prompt: str
    user_request: Sequence[ModelMessage]
    edit_of: str | None = None
    # The files it sends (chat/files.py), listed on the message and linked to it.
    attachments: Sequence[AttachmentPart] = ()


@dataclass(frozen=True)
class Regenerate:
    """A new reply to the prompt of the reply `message_id`."""

    message_id: str


class Store:
    def __init__(self, engine: AsyncEngine, history_cache_size: int = 64) -> None:
        self.engine = engine
        self.histories = HistoryCache(history_cache_size)

    # -- conversations -------------------------------------------------------------------

    async def create_conversation(self, owner: str, title: str | None = None) -> Conversation:
        stamp = now()
        row = {
            "id": new_id(),
            "owner_id": owner,
            "title": title or DEFAULT_TITLE,
            "title_source": "user" if title else "default",
            "current_leaf_id": None,
            "pinned": False,
            "archived": False,
            "created_at": stamp,
            "updated_at": stamp,
        }
        async with write(self.engine) as conn:
            await conn.execute(conversations.insert().values(**row))
        return conversation_of(row)

    async def list_conversations(
        self, owner: str, limit: int, cursor: str | None = None, *, archived: bool = False
    ) -> tuple[list[Conversation], str | None]:
        """Pinned first, then the most recently active; archived ones only if `archived`."""
        c = conversations.c
        query = sa.select(conversations, active_run()).where(
            c.owner_id == owner, c.archived == archived
        )
        if cursor is not None:
            pinned, updated_at, last_id = _decode_cursor(cursor)
            later = sa.and_(
                c.pinned == pinned,
                sa.or_(
                    c.updated_at < updated_at,
                    sa.and_(c.updated_at == updated_at, c.id < last_id),
                ),
            )
            # After the last pinned conversation come all the unpinned ones.
            query = query.where(sa.or_(later, c.pinned.is_(False)) if pinned else later)
        query = query.order_by(c.pinned.desc(), c.updated_at.desc(), c.id.desc()).limit(limit + 1)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        items = [conversation_of(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = _encode_cursor(
                bool(last["pinned"]), as_utc(last["updated_at"]), last["id"]
            )
        return items, next_cursor

    async def get_conversation(self, owner: str, conversation_id: str) -> Conversation | None:
        async with self.engine.connect() as conn:
            row = await conversation_row(conn, owner, conversation_id)
        return conversation_of(row) if row else None

    async def update_conversation(
        self,
        owner: str,
        conversation_id: str,
        *,
        title: str | None = None,
        pinned: bool | None = None,
        archived: bool | None = None,
        model: str | Unset | None = UNSET,
        instructions: str | Unset | None = UNSET,
        tools_off: list[str] | Unset | None = UNSET,
    ) -> Conversation | None:
        """Rename, pin, archive, or set the model and instructions (None: back to the
        default, none). Renaming makes the title the user's: never replaced."""
        values: dict[str, Any] = {}
        if not isinstance(model, Unset):
            values["model"] = model
        if not isinstance(instructions, Unset):
            values["instructions"] = instructions or None
        if not isinstance(tools_off, Unset):
            values["tools_off"] = sorted(set(tools_off)) if tools_off else None
        if title is not None:
            values |= {"title": title, "title_source": "user", "updated_at": now()}
        if pinned is not None:
            values["pinned"] = pinned
        if archived is not None:
            values["archived"] = archived
        async with write(self.engine) as conn:
            if values:
                result = await conn.execute(
                    conversations.update().where(owned(owner, conversation_id)).values(**values)
                )
                if result.rowcount == 0:
                    return None
            row = await conversation_row(conn, owner, conversation_id)
        return conversation_of(row) if row else None

    async def set_generated_title(self, conversation_id: str, title: str) -> bool:
        """Write the model's title, unless the user (or an earlier title) got there first."""
        async with write(self.engine) as conn:
            result = await conn.execute(
                conversations.update()
                .where(
                    conversations.c.id == conversation_id,
                    conversations.c.title_source == "prompt",
                )
                .values(title=title, title_source="model")
            )
        return bool(result.rowcount)

    async def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        """Delete it with its messages and runs; a reply generating in any process then stops
        (its process finds the run row gone at its next checkpoint)."""
        async with write(self.engine) as conn:
            deleted = await delete_conversations(conn, owned(owner, conversation_id))
        self.histories.forget(conversation_id)
        return deleted > 0

    async def switch_branch(
        self, owner: str, conversation_id: str, message_id: str
    ) -> Conversation | None:
        """Show the newest branch through `message_id`: the UI, every device and the model's
        history then follow it. Refused while a reply is generating (ConversationBusy)."""
        async with write(self.engine) as conn:
            found = await _locked_tree(conn, owner, conversation_id, message_id)
            if found is None:
                return None
            _conv, tree = found
            if tree.generating:
                raise ConversationBusy(conversation_id)
            await conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id)
                .values(current_leaf_id=tree.newest_leaf(message_id))
            )
            row = await conversation_row(conn, owner, conversation_id)
        return conversation_of(row) if row else None

    async def fork(self, owner: str, conversation_id: str, message_id: str) -> Conversation | None:
        """A new conversation holding a copy of the branch from the root to `message_id`."""
        stamp = now()
        async with write(self.engine) as conn:
            found = await _locked_tree(conn, owner, conversation_id, message_id)
            if found is None:
                return None
            conv, tree = found
            path = tree.branch(message_id)
            rows = {
                r["id"]: r
                for r in (
                    await conn.execute(sa.select(messages).where(messages.c.id.in_(path)))
                ).mappings()
            }
            if any(rows[i]["status"] == "generating" for i in path):
                raise ConversationBusy(conversation_id)
            fork_id = new_id()
            title = _clip(f"{conv['title']} (fork)", 200)
            new_ids = {old: new_id() for old in path}
            copies = [
                dict(rows[old])
                | {
                    "id": new_ids[old],
                    "conversation_id": fork_id,
                    "parent_id": new_ids[rows[old]["parent_id"]] if number else None,
                    "seq": number + 1,
                    "run_id": None,
                }
                for number, old in enumerate(path)
            ]
            fork = {
                "id": fork_id,
                "owner_id": owner,
                "title": title,
                "title_source": "user",
                "current_leaf_id": new_ids[message_id],
                "pinned": False,
                "archived": False,
                "created_at": stamp,
                "updated_at": stamp,
            }
            await conn.execute(conversations.insert().values(**fork))
            await conn.execute(messages.insert(), copies)
            await copy_links(conn, new_ids)
        return conversation_of(fork)

    # -- messages ------------------------------------------------------------------------

    async def list_messages(
        self,
        owner: str,
        conversation_id: str,
        limit: int,
        *,
        before: str | None = None,
        after: str | None = None,
        around: str | None = None,
        answering: Callable[[str | None], Answering] | None = None,
    ) -> MessagePage | None:
        """A page of the current branch, oldest first: the newest `limit` messages, or those
        before or after a cursor, or those around a message (a search hit). With
        `answering`, also where the history the next turn sends begins."""
        async with self.engine.connect() as conn:
            conv = await conversation_row(conn, owner, conversation_id)
            if conv is None:
                return None
            context_start, context_empty = None, False
            if answering is not None:
                budget = answering(conv["model"]).history_budget("", conv["instructions"])
                if budget is not None:
                    sent = await window(conn, conv["current_leaf_id"], budget)
                    context_start, context_empty = sent.start, sent.empty
            tree = await load_tree(conn, conversation_id)
            path = tree.branch(conv["current_leaf_id"])
            start, end = _window(path, limit, before, after, around)
            page_ids = path[start:end]
            rows = (
                (await conn.execute(_with_ratings().where(messages.c.id.in_(page_ids))))
                .mappings()
                .all()
            )
        by_id = {r["id"]: r for r in rows}
        items = [message_of(by_id[i], tree.siblings(i)) for i in page_ids if i in by_id]
        return MessagePage(
            items,
            next_cursor=page_ids[0] if start > 0 else None,
            newer_cursor=page_ids[-1] if page_ids and end < len(path) else None,
            context_start_id=context_start,
            context_empty=context_empty,
        )

    async def get_message(
        self, owner: str, conversation_id: str, message_id: str
    ) -> Message | None:
        query = (
            sa.select(messages)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(owned(owner, conversation_id), messages.c.id == message_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return message_of(row) if row else None

    async def export(
        self, owner: str, conversation_id: str
    ) -> tuple[Conversation, list[tuple[Message, Any]]] | None:
        """The conversation and its current branch, each message with its Pydantic AI JSON."""
        async with self.engine.connect() as conn:
            conv = await conversation_row(conn, owner, conversation_id)
            if conv is None:
                return None
            path = (await load_tree(conn, conversation_id)).branch(conv["current_leaf_id"])
            rows = (
                (await conn.execute(sa.select(messages).where(messages.c.id.in_(path))))
                .mappings()
                .all()
            )
        by_id = {r["id"]: r for r in rows}
        return conversation_of(conv), [
            (message_of(by_id[i]), json.loads(by_id[i]["model_messages"])) for i in path
        ]

    async def start_turn(
        self,
        owner: str,
        conversation_id: str,
        what: Fresh | Regenerate,
        run_id: str,
        model: str | Callable[[str | None], Answering],
        process_id: str = "",
        max_replies: int | None = None,
        daily_budget: Decimal | None = None,
    ) -> Turn | None:
        """Save the user's message (unless regenerating), an empty assistant message and the
        run, in one transaction, and make the new reply the conversation's current branch.

        None if the conversation does not exist (or was deleted meanwhile). Raises
        ConversationBusy if it has a reply generating, TooManyReplies if the owner has
        `max_replies` generating, OverBudget if the owner's replies today cost `daily_budget`:
        all decided inside the transaction, so a burst of sends, in
        one process or several, cannot all pass the check before any of them writes.
        MessageNotFound or WrongRole for an edit or regeneration of the wrong message.
        Also returns the model history before the prompt, read in the same transaction so it
        matches the rows just written. `model` names the model answering, or is given the
        conversation's chosen model (None: the default) and names it.
        """
        stamp = now()
        try:
            async with write(self.engine) as conn:
                # Row lock (PostgreSQL): two processes starting a reply in one conversation at once
                # take turns here, and the second sees the first's `generating` message.
                conv = await conversation_row(conn, owner, conversation_id, for_update=True)
                if conv is None:
                    return None
                answering = model(conv["model"]) if callable(model) else Answering(model)
                # Bounded reads only (no whole tree): a turn costs the same however long the
                # conversation is.
                await _may_start(conn, owner, conversation_id, max_replies, daily_budget, stamp)
                top = await max_seq(conn, conversation_id)
                if isinstance(what, Regenerate):
                    user = await _prompt_of_reply(conn, conversation_id, what.message_id)
                    new_user = False
                else:
                    parent_id = conv["current_leaf_id"]
                    if what.edit_of is not None:
                        parent_id = await _parent_of_prompt(conn, conversation_id, what.edit_of)
                    elif parent_id is not None and await _close_unanswered(conn, parent_id, stamp):
                        self.histories.forget(conversation_id)
                    user = _user_row(conversation_id, parent_id, top, what, run_id, stamp)
                    new_user = True
                history, context_start, context_cut = await self._history_before(
                    conn, conversation_id, user, answering, conv["instructions"]
                )
                # Stored and cached histories hold references to files, not their bytes.
                history = await restore_bytes(conn, owner, history)
                prompt_content = await _prompt_content(conn, owner, what, user)
                user_siblings = await children_of(conn, conversation_id, user["parent_id"])
                reply_siblings = await children_of(conn, conversation_id, user["id"])
                assistant = user | {
                    "id": new_id(),
                    "parent_id": user["id"],
                    "seq": top + (2 if new_user else 1),
                    "role": "assistant",
                    "text": "",
                    "parts": [],
                    "model_messages": "[]",
                    "status": "generating",
                    "error": None,
                    "model": answering.model,
                    "usage": None,
                    "run_id": run_id,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                await conn.execute(
                    messages.insert(), [user, assistant] if new_user else [assistant]
                )
                if new_user and isinstance(what, Fresh):
                    await link(conn, user["id"], [a.id for a in what.attachments])
                await _insert_run(
                    conn, run_id, conversation_id, owner, assistant["id"], process_id, stamp
                )
                values: dict[str, Any] = {"current_leaf_id": assistant["id"], "updated_at": stamp}
                title_source: TitleSource = conv["title_source"]
                first = user["parent_id"] is None
                if new_user and first and title_source in ("default", "prompt"):
                    values |= {"title": _title_from(user["text"]), "title_source": "prompt"}
                    title_source = "prompt"
                await conn.execute(
                    conversations.update()
                    .where(conversations.c.id == conversation_id)
                    .values(**values)
                )
                if new_user:
                    user_siblings.append(user["id"])
                return Turn(
                    conversation_id,
                    message_of(user, user_siblings),
                    message_of(assistant, [*reply_siblings, assistant["id"]]),
                    history,
                    user["model_messages"],
                    first=first and title_source == "prompt",
                    new_user=new_user,
                    model=answering.model,
                    instructions=conv["instructions"],
                    tools_off=frozenset(tools_off_of(conv)),
                    owner=owner,
                    context_start_id=context_start,
                    context_cut=context_cut,
                    prompt_content=prompt_content,
                )
        except IntegrityError:
            # The conversation was deleted between our read and our insert.
            return None

    async def finish_turn(
        self,
        turn: Turn,
        *,
        user_request: Sequence[ModelMessage] | None,
        response_messages: Sequence[ModelMessage],
        parts: Sequence[Part],
        status: Status,
        error: str | None,
        usage: Usage | None,
        timings: dict[str, Any] | None = None,
    ) -> Message:
        """Save the run's new messages, and mark the run finished, in one transaction.
        `timings`: how the reply was made (runs/timings.py), a resumed reply's earlier runs
        included."""
        stamp = now()
        if usage is not None and turn.context_cut:
            usage = usage.model_copy(update={"context_cut": True})
        spent = usage  # this run's, for the ledger; the message shows the whole reply's
        if turn.resume is not None:
            response_messages = [*turn.earlier, *response_messages]
            usage = _added(turn.earlier_usage, usage)
        text = text_of(parts)
        # A reply that failed or was stopped before the model said anything leaves an empty
        # response: without it the turn holds no answer, and chat.history leaves its prompt
        # out of what the model receives next.
        response_messages = [
            m for m in response_messages if not (isinstance(m, ModelResponse) and not m.parts)
        ]
        response_json, response_messages = dump_clean(response_messages)
        values = {
            "text": text,
            "parts": [p.model_dump() for p in parts],
            "model_messages": response_json,
            "status": status,
            "error": error,
            "usage": usage.model_dump() if usage else None,
            "updated_at": stamp,
        }
        if timings is not None:
            values["timings"] = timings
        request: list[ModelMessage] | None = None
        async with write(self.engine) as conn:
            if user_request is not None:
                request_json, request = dump_clean(user_request)
                await conn.execute(
                    messages.update()
                    .where(messages.c.id == turn.user.id)
                    .values(model_messages=request_json)
                )
            await conn.execute(
                messages.update().where(messages.c.id == turn.assistant.id).values(**values)
            )
            if spent is not None and turn.owner:
                await record(conn, turn.owner, turn.conversation_id, turn.model, spent, stamp)
            await _end_run(conn, turn, stamp)
        if request is None:
            request = ModelMessagesTypeAdapter.validate_json(turn.user_request_json)
        # A reply with no response is left out of what the model receives, with its prompt
        # (chat.history): the cached history must say the same.
        self.histories.put(
            turn.conversation_id,
            turn.assistant.id,
            [*turn.history, *request, *response_messages] if response_messages else turn.history,
        )
        return turn.assistant.model_copy(
            update={
                "text": text,
                "parts": list(parts),
                "status": status,
                "error": error,
                "usage": usage,
            }
        )

    async def resume_turn(
        self,
        owner: str,
        conversation_id: str,
        message_id: str,
        decisions: Sequence[Decision],
        run_id: str,
        model: Callable[[str | None], Answering],
        process_id: str = "",
        max_replies: int | None = None,
        daily_budget: Decimal | None = None,
    ) -> Turn | None:
        """Record the owner's answers to a reply's pending tool calls and start the run that
        resumes it, in one transaction (chat/approvals.py).

        None if the conversation is not the owner's; MessageNotFound for a message not in it;
        NotAwaiting if the reply waits for nothing (a second answer) or is not on the branch
        shown; InvalidDecision if the answers do not fit the calls; the limits as for a prompt.
        """
        stamp = now()
        async with write(self.engine) as conn:
            conv = await conversation_row(conn, owner, conversation_id, for_update=True)
            if conv is None:
                return None
            row = (
                (
                    await conn.execute(
                        sa.select(messages).where(
                            messages.c.id == message_id,
                            messages.c.conversation_id == conversation_id,
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is None or row["role"] != "assistant":
                raise MessageNotFound(message_id)
            if row["status"] != "awaiting_approval":
                raise NotAwaiting("This reply is not waiting for an answer (any more).")
            if conv["current_leaf_id"] != message_id:
                raise NotAwaiting("Switch to this version of the reply to answer it.")
            await _may_start(conn, owner, conversation_id, max_replies, daily_budget, stamp)
            reply = message_of(row, [])
            parts, results = decide(reply.parts, decisions, owner, stamp.isoformat())
            user_row = (
                (await conn.execute(sa.select(messages).where(messages.c.id == row["parent_id"])))
                .mappings()
                .one()
            )
            answering = model(row["model"])
            history, context_start, context_cut = await self._history_before(
                conn, conversation_id, user_row, answering, conv["instructions"]
            )
            await conn.execute(
                messages.update()
                .where(messages.c.id == message_id)
                .values(
                    status="generating",
                    run_id=run_id,
                    parts=[p.model_dump() for p in parts],
                    updated_at=stamp,
                )
            )
            await _insert_run(conn, run_id, conversation_id, owner, message_id, process_id, stamp)
            await conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id)
                .values(updated_at=stamp)
            )
            earlier = ModelMessagesTypeAdapter.validate_json(row["model_messages"])
            request = ModelMessagesTypeAdapter.validate_json(user_row["model_messages"])
            # What the resumed run is given: the files' bytes put back (chat/files.py).
            resumed_history = await restore_bytes(conn, owner, [*history, *request, *earlier])
            user_siblings = await children_of(conn, conversation_id, user_row["parent_id"])
            reply_siblings = await children_of(conn, conversation_id, user_row["id"])
            resumed = reply.model_copy(
                update={"parts": parts, "status": "generating", "siblings": reply_siblings}
            )
            return Turn(
                conversation_id,
                message_of(user_row, user_siblings),
                resumed,
                history,
                user_row["model_messages"],
                new_user=False,
                model=answering.model,
                instructions=conv["instructions"],
                tools_off=frozenset(tools_off_of(conv)),
                owner=owner,
                context_start_id=context_start,
                context_cut=context_cut,
                resume=results,
                earlier=tuple(earlier),
                earlier_parts=tuple(parts),
                resumed_history=tuple(resumed_history),
                earlier_usage=reply.usage,
                earlier_timings=row["timings"],
            )

    async def _history_before(
        self,
        conn: AsyncConnection,
        conversation_id: str,
        user: sa.RowMapping | dict[str, Any],
        answering: Answering,
        instructions: str | None,
    ) -> tuple[list[ModelMessage], str | None, bool]:
        """The history sent before the prompt `user`: from the cache when the whole branch is
        sent, else the newest whole turns that fit the window (chat/context.py); the first
        message sent when older ones were left out, and whether any were."""
        budget = answering.history_budget(user["model_messages"], instructions)
        if budget is None:
            cached = self.histories.get(conversation_id, user["parent_id"])
            if cached is not None:
                return cached, None, False
        sent = await window(conn, user["parent_id"], budget)
        cut = sent.start is not None or sent.empty
        return await read_history(conn, sent.path), sent.start, cut

    async def fail_turn(
        self,
        turn: Turn,
        parts: Sequence[Part],
        error: str,
        timings: dict[str, Any] | None = None,
    ) -> None:
        """Mark a reply that could not be saved as an error, keeping the parts shown so far
        (without the model's messages) and its timings, and end its run; if even that fails,
        end the run."""
        stamp = now()
        values = {"status": "error", "error": error, "updated_at": stamp}
        kept: dict[str, Any] = {"timings": timings} if timings is not None else {}
        try:
            async with write(self.engine) as conn:
                await conn.execute(
                    messages.update()
                    .where(messages.c.id == turn.assistant.id)
                    .values(
                        **values,
                        **kept,
                        text=text_of(parts),
                        parts=[p.model_dump() for p in parts],
                    )
                )
                await _end_run(conn, turn, stamp)
        except Exception:
            async with write(self.engine) as conn:
                await conn.execute(
                    messages.update().where(messages.c.id == turn.assistant.id).values(**values)
                )
                await _end_run(conn, turn, stamp)
        self.histories.forget(turn.conversation_id)


async def _may_start(
    conn: AsyncConnection,
    owner: str,
    conversation_id: str,
    max_replies: int | None,
    daily_budget: Decimal | None,
    stamp: datetime,
) -> None:
    """Whether a reply may start: none generating in the conversation (ConversationBusy), fewer
    than `max_replies` of the owner's (TooManyReplies), today's budget not spent (OverBudget).
    Bounded reads only (no whole tree): a turn costs the same however long the conversation."""
    if await is_generating(conn, conversation_id):
        raise ConversationBusy(conversation_id)
    if max_replies is not None:
        await _check_replies(conn, owner, max_replies)
    if daily_budget is not None:
        # Under the owner's lock: what the owner spent is read where it is decided.
        await lock_key(conn, f"replies:{owner}")
        await check_budget(conn, owner, daily_budget, stamp)


async def _insert_run(
    conn: AsyncConnection,
    run_id: str,
    conversation_id: str,
    owner: str,
    message_id: str,
    process_id: str,
    stamp: datetime,
) -> None:
    await conn.execute(
        runs.insert().values(
            id=run_id,
            conversation_id=conversation_id,
            owner_id=owner,
            message_id=message_id,
            process_id=process_id,
            status="running",
            stop_requested=False,
            heartbeat_at=stamp,
            created_at=stamp,
        )
    )


async def _end_run(conn: AsyncConnection, turn: Turn, stamp: datetime) -> None:
    await conn.execute(
        runs.update()
        .where(runs.c.id == turn.assistant.run_id)
        .values(status="finished", heartbeat_at=stamp)
    )
    await conn.execute(
        conversations.update()
        .where(conversations.c.id == turn.conversation_id)
        .values(updated_at=stamp)
    )


async def _locked_tree(
    conn: AsyncConnection, owner: str, conversation_id: str, message_id: str
) -> tuple[sa.RowMapping, Tree] | None:
    """The conversation, locked (PostgreSQL), and its tree, which must hold `message_id`;
    None if the conversation is not the owner's."""
    conv = await conversation_row(conn, owner, conversation_id, for_update=True)
    if conv is None:
        return None
    tree = await load_tree(conn, conversation_id)
    if message_id not in tree.parent:
        raise MessageNotFound(message_id)
    return conv, tree


async def _check_replies(conn: AsyncConnection, owner: str, max_replies: int) -> None:
    await lock_key(conn, f"replies:{owner}")
    running = await conn.scalar(
        sa.select(sa.func.count())
        .select_from(runs)
        .where(runs.c.owner_id == owner, runs.c.status == "running")
    )
    if (running or 0) >= max_replies:
        raise TooManyReplies(owner)


async def _prompt_content(
    conn: AsyncConnection, owner: str, what: Fresh | Regenerate, user: dict[str, Any]
) -> list[UserContent] | None:
    """The prompt of a turn with files as the model receives it: the new one's, or (when
    regenerating) the stored one's with its files' bytes put back."""
    if isinstance(what, Fresh):
        for message in what.user_request:
            for part in getattr(message, "parts", []):
                if isinstance(part, UserPromptPart) and not isinstance(part.content, str):
                    return list(part.content)
        return None
    if not any(p.get("type") == "attachment" for p in user["parts"]):
        return None
    return await stored_prompt(conn, owner, user["model_messages"])


async def _role_of(
    conn: AsyncConnection,
    conversation_id: str,
    message_id: str,
    role: Literal["user", "assistant"],
) -> sa.RowMapping:
    row = (
        (
            await conn.execute(
                sa.select(messages).where(
                    messages.c.id == message_id, messages.c.conversation_id == conversation_id
                )
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise MessageNotFound(message_id)
    if row["role"] != role:
        raise WrongRole(
            "Only your own messages can be edited; regenerate a reply instead."
            if role == "user"
            else "Only replies can be regenerated; edit your message instead."
        )
    return row


async def _parent_of_prompt(
    conn: AsyncConnection, conversation_id: str, message_id: str
) -> str | None:
    """Where the new version of the prompt `message_id` goes: beside it."""
    return (await _role_of(conn, conversation_id, message_id, "user"))["parent_id"]  # type: ignore[no-any-return]


async def _prompt_of_reply(
    conn: AsyncConnection, conversation_id: str, message_id: str
) -> dict[str, Any]:
    """The prompt a reply answered, which its new version answers again."""
    reply = await _role_of(conn, conversation_id, message_id, "assistant")
    prompt = (
        (await conn.execute(sa.select(messages).where(messages.c.id == reply["parent_id"])))
        .mappings()
        .one()
    )
    return dict(prompt)


def _user_row(
    conversation_id: str,
    parent_id: str | None,
    top: int,
    fresh: Fresh,
    run_id: str,
    stamp: datetime,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "conversation_id": conversation_id,
        "parent_id": parent_id,
        "seq": top + 1,
        "role": "user",
        "text": fresh.prompt,
        "parts": [
            TextPart(text=fresh.prompt).model_dump(),
            *(a.model_dump() for a in fresh.attachments),
        ],
        "model_messages": dump_messages(fresh.user_request),
        "status": "complete",
        "error": None,
        "model": None,
        "usage": None,
        "run_id": run_id,
        "created_at": stamp,
        "updated_at": stamp,
    }


def _window(
    path: list[str], limit: int, before: str | None, after: str | None, around: str | None
) -> tuple[int, int]:
    """Which slice of the branch `path` a page is."""
    cursor = before or after or around
    if cursor is not None and cursor not in path:
        # A client paging after a delete or a branch switch must start again, not be
        # handed the newest page as if it were the next one.
        raise BadCursor(cursor)
    if after is not None:
        start = path.index(after) + 1
        return start, min(len(path), start + limit)
    if around is not None:
        start = max(0, path.index(around) - limit // 2)
        end = min(len(path), start + limit)
        return max(0, end - limit), end
    end = path.index(before) if before is not None else len(path)
    return max(0, end - limit), end


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def text_of(parts: Sequence[Part]) -> str:
    return "\n\n".join(p.text for p in parts if isinstance(p, TextPart))


def _title_from(prompt: str) -> str:
    first_line = prompt.strip().splitlines()[0] if prompt.strip() else DEFAULT_TITLE
    return _clip(first_line, 80)


def _encode_cursor(pinned: bool, updated_at: datetime, last_id: str) -> str:
    raw = f"{int(pinned)}|{updated_at.isoformat()}|{last_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[bool, datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        pinned, stamp, last_id = raw.split("|", 2)
        if pinned not in ("0", "1"):
            raise ValueError(pinned)
        return pinned == "1", datetime.fromisoformat(stamp), last_id
    except ValueError as exc:
        raise BadCursor("invalid cursor") from exc


async def _close_unanswered(conn: AsyncConnection, message_id: str, stamp: datetime) -> bool:
    """A new prompt after a reply waiting for tool approvals: its calls are closed as not run
    (chat/approvals.py). Whether there was such a reply."""
    row = (
        (
            await conn.execute(
                sa.select(messages.c.status, messages.c.parts, messages.c.model_messages).where(
                    messages.c.id == message_id
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None or row["status"] != "awaiting_approval":
        return False
    earlier = ModelMessagesTypeAdapter.validate_json(row["model_messages"])
    parts = [PART.validate_python(p) for p in row["parts"]]
    closed, repaired = close_unanswered(parts, earlier, stamp.isoformat())
    await conn.execute(
        messages.update()
        .where(messages.c.id == message_id)
        .values(
            status="complete",
            parts=[p.model_dump() for p in closed],
            model_messages=dump_messages(repaired),
            updated_at=stamp,
        )
    )
    return True


def _added(earlier: Usage | None, later: Usage | None) -> Usage | None:
    """A resumed reply's usage: what it used before the pause and after."""
    if earlier is None or later is None:
        return later or earlier
    cost = None if earlier.cost is None or later.cost is None else earlier.cost + later.cost
    return Usage(
        input_tokens=earlier.input_tokens + later.input_tokens,
        output_tokens=earlier.output_tokens + later.output_tokens,
        cache_read_tokens=earlier.cache_read_tokens + later.cache_read_tokens,
        reasoning_tokens=earlier.reasoning_tokens + later.reasoning_tokens,
        cost=cost,
        context_cut=earlier.context_cut or later.context_cut,
    )
