"""An OpenAI-compatible provider on 127.0.0.1, for tests that drive the real HTTP path.

It speaks both APIs Pydantic AI's OpenAI models use: Chat Completions (`openai-chat:` models,
`POST /v1/chat/completions`) and Responses (`openai:` models, `POST /v1/responses`), streaming
and not. The reply is always `reply_to(last user text)`, so a test knows what the model said;
every request body is recorded, so a test can check what the model was sent.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
RESPONSES_PATHS = frozenset({"/v1/responses", "/responses"})


def reply_to(prompt: str) -> str:
    return f"Echo: {prompt}"


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]

    def history(self) -> list[tuple[str, str]]:
        """The (role, text) messages the request carried, in order, in either API's shape."""
        if self.path in CHAT_PATHS:
            items = self.body.get("messages", [])
        else:
            raw = self.body.get("input", [])
            items = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw
        return [
            (item["role"], _text_of(item.get("content")))
            for item in items
            if item.get("type", "message") == "message" and "role" in item
        ]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


class FakeOpenAI:
    """The fake server. `delay` (seconds) is slept before each streamed piece, read per piece."""

    def __init__(self, chunk_size: int = 4) -> None:
        self.chunk_size = chunk_size
        self.delay = 0.0
        # (status, error message): every model request is answered with this error instead.
        self.failure: tuple[int, str] | None = None
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def record(self, path: str, body: dict[str, Any]) -> Recorded:
        recorded = Recorded(path, body)
        with self._lock:
            self.requests.append(recorded)
        return recorded

    @property
    def replies(self) -> list[Recorded]:
        """The streamed requests: replies. (A conversation's title is asked for unstreamed.)"""
        with self._lock:
            return [r for r in self.requests if r.body.get("stream")]

    @property
    def unstreamed(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if not r.body.get("stream")]

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids)}"

    def pieces(self, text: str) -> list[str]:
        return [text[i : i + self.chunk_size] for i in range(0, len(text), self.chunk_size)]


def provider_env(fake: FakeOpenAI, model: str) -> dict[str, str]:
    """The environment of a `parley serve` whose model `model` is served by `fake`."""
    return {"PARLEY_MODEL": model, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test-key"}


def _handler_for(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: a streamed body ends when the connection closes, no chunked encoding needed.
        protocol_version = "HTTP/1.0"
        disable_nagle_algorithm = True  # each SSE frame leaves at once, not after a delayed ACK

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._json(400, _error("the body is not JSON"))
                return
            if path not in CHAT_PATHS | RESPONSES_PATHS:
                self._json(404, _error(f"no route {path}"))
                return
            recorded = fake.record(path, body)
            if fake.failure is not None:
                self._json(fake.failure[0], _error(fake.failure[1]))
                return
            users = [text for role, text in recorded.history() if role == "user"]
            reply = reply_to(users[-1] if users else "")
            usage = (sum(len(t.split()) for _, t in recorded.history()), len(reply.split()))
            try:
                if path in CHAT_PATHS:
                    self._chat(body, reply, usage)
                else:
                    self._responses(body, reply, usage)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client hung up mid-reply (a stopped run): not the fake's error

        def do_GET(self) -> None:
            self._json(404, _error(f"no route {self.path}"))

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _start_stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()

        def _send(self, data: dict[str, Any] | str, event: str | None = None) -> None:
            text = data if isinstance(data, str) else json.dumps(data)
            frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
            self.wfile.write(frame.encode())
            self.wfile.flush()

        def _pause(self) -> None:
            if fake.delay:
                time.sleep(fake.delay)

        def _chat(self, body: dict[str, Any], reply: str, usage: tuple[int, int]) -> None:
            head = {
                "id": fake.new_id("chatcmpl"),
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "system_fingerprint": None,
            }
            usage_json = {
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": sum(usage),
            }
            if not body.get("stream"):
                message = {"role": "assistant", "content": reply, "refusal": None}
                choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
                self._json(
                    200,
                    {**head, "object": "chat.completion", "choices": [choice], "usage": usage_json},
                )
                return

            def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                return {**head, "object": "chat.completion.chunk", "choices": [choice]}

            self._start_stream()
            self._send(chunk({"role": "assistant", "content": ""}))
            for piece in fake.pieces(reply):
                self._pause()
                self._send(chunk({"content": piece}))
            self._send(chunk({}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                self._send(
                    {**head, "object": "chat.completion.chunk", "choices": [], "usage": usage_json}
                )
            self._send("[DONE]")

        def _responses(self, body: dict[str, Any], reply: str, usage: tuple[int, int]) -> None:
            message_id = fake.new_id("msg")
            text_part = {"type": "output_text", "text": reply, "annotations": [], "logprobs": []}
            message = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [text_part],
            }
            response = _response(fake.new_id("resp"), body, "in_progress")
            done = {
                **response,
                "status": "completed",
                "output": [message],
                "usage": {
                    "input_tokens": usage[0],
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": usage[1],
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": sum(usage),
                },
            }
            if not body.get("stream"):
                self._json(200, done)
                return

            sequence = itertools.count()

            def event(kind: str, **fields: Any) -> None:
                self._send({"type": kind, "sequence_number": next(sequence), **fields}, kind)

            where = {"item_id": message_id, "output_index": 0, "content_index": 0}
            self._start_stream()
            event("response.created", response=response)
            event("response.in_progress", response=response)
            event(
                "response.output_item.added",
                output_index=0,
                item={**message, "status": "in_progress", "content": []},
            )
            event("response.content_part.added", **where, part={**text_part, "text": ""})
            for piece in fake.pieces(reply):
                self._pause()
                event("response.output_text.delta", **where, delta=piece, logprobs=[])
            event("response.output_text.done", **where, text=reply, logprobs=[])
            event("response.content_part.done", **where, part=text_part)
            event("response.output_item.done", output_index=0, item=message)
            event("response.completed", response=done)

    return Handler


def _response(response_id: str, body: dict[str, Any], status: str) -> dict[str, Any]:
    """A Responses API `Response` object with no output yet, shaped as OpenAI sends it."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model", "fake"),
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": {},
    }


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


class SplitSurrogatesOpenAI(FakeOpenAI):
    """A fake that cuts its stream by UTF-16 code units, as some providers do: a character
    outside the BMP (an emoji) goes out as its two surrogate halves in separate chunks, each
    chunk's JSON holding a lone `\\ud83d`-style escape."""

    def pieces(self, text: str) -> list[str]:
        out: list[str] = []
        for piece in super().pieces(text):
            current = ""
            for char in piece:
                if ord(char) <= 0xFFFF:
                    current += char
                    continue
                offset = ord(char) - 0x10000
                out.append(current + chr(0xD800 + (offset >> 10)))
                current = chr(0xDC00 + (offset & 0x3FF))
            if current:
                out.append(current)
        return out
