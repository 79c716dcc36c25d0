"""One loaded GGUF model, shared by every request, generating one reply at a time.

llama.cpp runs one generation per context, in a worker thread; tokens cross to the event loop
through a queue. Requests wait their turn in arrival order (an `asyncio.Lock` wakes waiters
first in, first out, and a waiter that is cancelled leaves the queue). A consumer that stops
reading (the run was stopped or cancelled) sets a flag the worker checks after every token, and
the lock is released only once the worker has stopped, so the next request gets a free model.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

_DONE = object()


class Preempted(Exception):
    """A background generation gave way to a reply someone is waiting for."""


@dataclass(frozen=True)
class Sampling:
    """Defaults for a tiny model: low temperature and a repeat penalty keep it from looping."""

    max_tokens: int = 512
    temperature: float = 0.2
    top_p: float = 0.9
    repeat_penalty: float = 1.1
    seed: int | None = None


class LlamaEngine:
    def __init__(self, path: Path, n_ctx: int, n_threads: int | None = None) -> None:
        from llama_cpp import Llama  # imported here: loading llama.cpp is only for local models

        self.path = path
        self.n_ctx = n_ctx
        self.llama: Any = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads or os.cpu_count() or 1,
            verbose=False,
        )
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-llama")
        # Keyed by the loop itself, weakly: keyed by id(), a new loop could be handed a dead
        # loop's lock (ids are reused), possibly still held.
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )
        self.generating = threading.Event()
        # Replies waiting for the model or generating: a background generation (a title)
        # stops when one arrives. Changed on the event loop, read by the worker thread.
        self._foreground = 0

    def close(self) -> None:
        self._worker.shutdown(wait=True)
        self.llama.close()

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode(), add_bos=False, special=True))

    def _lock(self) -> asyncio.Lock:
        # One lock per event loop: an asyncio.Lock belongs to the loop that first waits on it.
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def stream(
        self, messages: list[dict[str, str]], sampling: Sampling, *, background: bool = False
    ) -> AsyncGenerator[str]:
        """Text deltas of the reply to `messages` (OpenAI-style chat messages).

        One generation at a time, in arrival order. A `background` one (a conversation's title)
        raises Preempted as soon as a reply is waiting: the model is serial, and a title must
        not hold up someone's next answer.
        """
        if not background:
            self._foreground += 1
        try:
            async for delta in self._stream(messages, sampling, background):
                yield delta
        finally:
            if not background:
                self._foreground -= 1

    async def _stream(
        self, messages: list[dict[str, str]], sampling: Sampling, background: bool
    ) -> AsyncGenerator[str]:
        async with self._lock():
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[object] = asyncio.Queue()
            stop = threading.Event()

            def produce() -> None:
                self.generating.set()
                try:
                    for delta in self._generate(messages, sampling):
                        if stop.is_set():
                            break
                        if background and self._foreground:
                            loop.call_soon_threadsafe(queue.put_nowait, Preempted())
                            break
                        loop.call_soon_threadsafe(queue.put_nowait, delta)
                except BaseException as exc:  # handed to the consumer, raised there
                    loop.call_soon_threadsafe(queue.put_nowait, exc)
                finally:
                    self.generating.clear()
                    loop.call_soon_threadsafe(queue.put_nowait, _DONE)

            worker = loop.run_in_executor(self._worker, produce)
            try:
                while (item := await queue.get()) is not _DONE:
                    if isinstance(item, BaseException):
                        raise item
                    assert isinstance(item, str)
                    yield item
            finally:
                stop.set()
                # Hold the model until the worker has really stopped generating.
                await asyncio.shield(worker)

    def _generate(self, messages: list[dict[str, str]], sampling: Sampling) -> Iterator[str]:
        chunks = self.llama.create_chat_completion(
            messages=messages,
            stream=True,
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            repeat_penalty=sampling.repeat_penalty,
            seed=sampling.seed,
        )
        try:
            for chunk in chunks:
                delta = chunk["choices"][0]["delta"].get("content")
                if delta:
                    yield delta
        finally:
            chunks.close()  # stops llama.cpp's generation loop


_engines: dict[tuple[Path, int], LlamaEngine] = {}
_engines_lock = threading.Lock()
_closed_at_exit = False


def engine_for(path: Path, n_ctx: int) -> LlamaEngine:
    """The shared engine for a model file: loaded once per process."""
    key = (path.resolve(), n_ctx)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = LlamaEngine(key[0], n_ctx)
            global _closed_at_exit
            if not _closed_at_exit:
                atexit.register(close_engines)
                _closed_at_exit = True
        return engine


def close_engines() -> None:
    """Free every loaded model now, while the interpreter is whole.

    Left to the garbage collector at interpreter exit, llama-cpp-python's `Llama.__del__` runs
    after the modules it needs are gone and prints "Exception ignored … TypeError".
    """
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.close()
