"""Runs: generating a reply, as a server-side task whose lifetime is not the HTTP request's.

A `Run` drives `Agent.run_stream_events`, keeps every wire event it produced in memory (so a
client can attach at any point and get what it missed, then live events), and saves the reply
when it ends, however it ends: finished, stopped, failed, or cut short by shutdown. HTTP
responses only subscribe; a client that goes away takes nothing with it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.sse import format_sse_event
from pydantic_ai import CancellationToken
from pydantic_ai.agent import AbstractAgent
from pydantic_ai.exceptions import ModelHTTPError, RunCancelled, RunTimedOut
from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.run import AgentRunResultEvent
from pydantic_ai.usage import UsageLimits

from . import schemas
from .ids import new_id
from .reply import ReplyBuilder, WireEvent
from .settings import Settings
from .store import ConversationBusy, Store, Turn

log = logging.getLogger(__name__)

# How long a finished run stays attachable in memory, for clients that reconnect just late.
_FINISHED_RUN_TTL = 60.0
_KEEPALIVE_SECONDS = 15.0
_COALESCE_SECONDS = 0.025
# Consecutive deltas of these kinds can share one frame; a frame carries its last event's id.
_MERGEABLE = frozenset({"text", "thinking"})


class RunNotFound(Exception):
    pass


class TooManyRuns(Exception):
    """The user already has as many replies generating as the settings allow."""


class Run:
    def __init__(self, run_id: str, owner: str, turn: Turn, prompt: str) -> None:
        self.id = run_id
        self.owner = owner
        self.turn = turn
        self.prompt = prompt
        self.events: list[WireEvent] = []
        self.finished = False
        self.token = CancellationToken()
        self.stop_reason: schemas.Status = "stopped"
        self.task: asyncio.Task[None] | None = None
        # Set when the reply has content that the last checkpoint did not save.
        self.dirty = False
        self._changed = asyncio.Event()

    @property
    def conversation_id(self) -> str:
        return self.turn.conversation_id

    def publish(self, name: str, data: dict[str, Any]) -> None:
        self.events.append((name, data))
        self.dirty = True
        self._wake()

    def close(self) -> None:
        self.finished = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def tick(self) -> None:
        """Wake subscribers with nothing new, so an idle stream can send its keep-alive."""
        self._wake()

    async def frames(self, after: int = -1) -> AsyncIterator[bytes]:
        """SSE frames for every event with an id greater than `after`, then live ones."""
        position = max(after + 1, 0)
        last_sent = time.monotonic()
        while True:
            if position < len(self.events):
                if not self.finished:
                    # Let the deltas of the next few milliseconds join this frame: far fewer
                    # frames, wakes and bytes for a delay no reader notices.
                    await asyncio.sleep(_COALESCE_SECONDS)
                end = len(self.events)
                yield _encode(self.events, position, end)
                position = end
                last_sent = time.monotonic()
                continue
            if self.finished:
                return
            if time.monotonic() - last_sent >= _KEEPALIVE_SECONDS:
                yield b": keep-alive\n\n"
                last_sent = time.monotonic()
            await self._changed.wait()


def _encode(events: list[WireEvent], start: int, end: int) -> bytes:
    out: list[bytes] = []
    i = start
    while i < end:
        name, data = events[i]
        if name in _MERGEABLE:
            j = i + 1
            while j < end and events[j][0] == name:
                j += 1
            if j - i > 1:
                data = {"d": "".join(e[1]["d"] for e in events[i:j])}
            i = j - 1
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        out.append(format_sse_event(data_str=payload, event=name, id=str(i)))
        i += 1
    return b"".join(out)


class Runs:
    """The runs of this process, and the rule of one run per conversation."""

    def __init__(
        self, store: Store, agent: AbstractAgent[Any, Any], model: str, settings: Settings
    ) -> None:
        self.store = store
        self.agent = agent
        self.model = model
        self.settings = settings
        self._runs: dict[str, Run] = {}
        self._active: dict[str, Run] = {}
        self._starting: set[str] = set()

    def active_run_id(self, conversation_id: str) -> str | None:
        run = self._active.get(conversation_id)
        return run.id if run else None

    async def start(self, owner: str, conversation_id: str, prompt: str) -> Run | None:
        """Save the prompt and start generating; None if the conversation does not exist.

        Raises ConversationBusy if a reply is already being generated for it.
        """
        # Reserve the conversation before the first await, so two concurrent sends cannot
        # both pass the check.
        if conversation_id in self._active or conversation_id in self._starting:
            raise ConversationBusy(conversation_id)
        if sum(r.owner == owner for r in self._active.values()) >= self.settings.max_runs_per_user:
            raise TooManyRuns(owner)
        self._starting.add(conversation_id)
        try:
            run_id = new_id()
            request = ModelRequest(parts=[UserPromptPart(prompt)])
            turn = await self.store.start_turn(
                owner, conversation_id, prompt, [request], run_id, self.model
            )
            if turn is None:
                return None
            run = Run(run_id, owner, turn, prompt)
            self._runs[run_id] = run
            self._active[conversation_id] = run
        finally:
            self._starting.discard(conversation_id)
        run.publish("user", {"message": turn.user.model_dump(mode="json")})
        run.publish("start", {"message": turn.assistant.model_dump(mode="json"), "run_id": run_id})
        run.task = asyncio.create_task(self._drive(run), name=f"parley-run-{run_id}")
        return run

    def get(self, owner: str, run_id: str) -> Run:
        run = self._runs.get(run_id)
        if run is None or run.owner != owner:
            raise RunNotFound(run_id)
        return run

    def stop(self, owner: str, run_id: str) -> Run:
        run = self.get(owner, run_id)
        if not run.finished:
            run.token.cancel()
        return run

    async def shutdown(self, grace: float = 5.0) -> None:
        """Stop every run and let each save what it has, marked interrupted."""
        runs = list(self._active.values())
        for run in runs:
            run.stop_reason = "interrupted"
            run.token.cancel()
        tasks = [r.task for r in runs if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)

    async def _checkpoint(self, run: Run, builder: ReplyBuilder) -> None:
        """Save the reply so far at a bounded rate, never per token.

        What a crash leaves behind is at most one interval of text; a restarted (or another)
        process shows it, marked interrupted.
        """
        interval = self.settings.checkpoint_interval
        while not run.finished:
            await asyncio.sleep(interval)
            run.tick()
            if not run.dirty:
                continue
            run.dirty = False
            try:
                await self.store.checkpoint(run.turn.assistant.id, builder.snapshot(rendered=True))
            except Exception:
                log.exception("checkpoint of run %s failed", run.id)

    async def _drive(self, run: Run) -> None:
        builder = ReplyBuilder()
        checkpoints = asyncio.create_task(self._checkpoint(run, builder))
        status: schemas.Status = "complete"
        error: str | None = None
        new_messages: list[ModelMessage] = []
        usage: schemas.Usage | None = None
        try:
            async with self.agent.run_stream_events(
                run.prompt,
                message_history=run.turn.history,
                instructions=self.settings.instructions,
                usage_limits=UsageLimits(
                    request_limit=self.settings.max_requests_per_reply,
                    output_tokens_limit=self.settings.max_output_tokens,
                ),
                cancellation_token=run.token,
                timeout=self.settings.run_timeout,
            ) as stream:
                try:
                    async for event in stream:
                        if isinstance(event, AgentRunResultEvent):
                            continue
                        for name, data in builder.handle(event):
                            run.publish(name, data)
                    new_messages = stream.new_messages()
                except RunTimedOut as exc:
                    status, error = "error", "The reply took too long and was stopped."
                    new_messages = exc.new_messages()
                except RunCancelled as exc:
                    status = run.stop_reason
                    new_messages = exc.new_messages()
                except Exception as exc:
                    log.exception("run %s failed", run.id)
                    status, error = "error", _describe(exc)
                    new_messages = _live_messages(stream)
                usage = _usage(stream)
        except Exception as exc:  # the agent could not even start
            log.exception("run %s could not start", run.id)
            status, error = "error", _describe(exc)
        finally:
            checkpoints.cancel()
            await self._finish(run, builder, status, error, new_messages, usage)

    async def _finish(
        self,
        run: Run,
        builder: ReplyBuilder,
        status: schemas.Status,
        error: str | None,
        new_messages: list[ModelMessage],
        usage: schemas.Usage | None,
    ) -> None:
        for name, data in builder.close():
            run.publish(name, data)
        user_request: ModelMessage | None = None
        if new_messages and isinstance(new_messages[0], ModelRequest):
            user_request, new_messages = new_messages[0], new_messages[1:]
        try:
            await self.store.finish_turn(
                run.turn,
                user_request=[user_request] if user_request else None,
                response_messages=new_messages,
                parts=builder.snapshot(),
                status=status,
                error=error,
                usage=usage,
            )
        except Exception:
            log.exception("saving run %s failed", run.id)
            status, error = "error", "The reply could not be saved."
        if error:
            run.publish("error", {"detail": error})
        run.publish(
            "done",
            {
                "id": run.turn.assistant.id,
                "status": status,
                "error": error,
                "usage": usage.model_dump() if usage else None,
                "model": self.model,
            },
        )
        run.close()
        if self._active.get(run.conversation_id) is run:
            del self._active[run.conversation_id]
        asyncio.get_running_loop().call_later(_FINISHED_RUN_TTL, self._runs.pop, run.id, None)


def _live_messages(stream: Any) -> list[ModelMessage]:
    try:
        return list(stream.new_messages())
    except Exception:
        return []


def _usage(stream: Any) -> schemas.Usage | None:
    try:
        usage = stream.usage
    except Exception:
        return None
    return schemas.Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ModelHTTPError):
        return f"The model provider answered with an error ({exc.status_code}): {exc}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
