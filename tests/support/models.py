"""Model doubles for tests: Pydantic AI FunctionModels that record what they were sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import (
    AgentInfo,
    DeltaThinkingCalls,
    DeltaThinkingPart,
    DeltaToolCall,
    DeltaToolCalls,
    FunctionModel,
)


def prompts_of(messages: list[ModelMessage]) -> list[str]:
    """The user prompts in a model request's history, in order."""
    return [
        part.content
        for m in messages
        if isinstance(m, ModelRequest)
        for part in m.parts
        if isinstance(part, UserPromptPart) and isinstance(part.content, str)
    ]


@dataclass
class Echo:
    """Streams a reply that names the prompt it answers, in small chunks; records each call."""

    chunk: int = 4
    delay: float = 0.0
    calls: list[list[ModelMessage]] = field(default_factory=list)

    async def stream(
        self, messages: list[ModelMessage], _info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls | DeltaThinkingCalls]:
        self.calls.append(list(messages))
        reply = f"You said: **{prompts_of(messages)[-1]}**. That is all."
        for i in range(0, len(reply), self.chunk):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield reply[i : i + self.chunk]

    def agent(self) -> Agent[None, str]:
        return Agent(FunctionModel(stream_function=self.stream, model_name="echo"))


def reply_to(prompt: str) -> str:
    return f"You said: **{prompt}**. That is all."


@dataclass
class Scripted:
    """Streams fixed text chunks, optionally waiting on an event between them or failing."""

    chunks: list[str]
    fail_after: int | None = None
    gate: asyncio.Event | None = None
    pause_after: int = 1

    async def stream(self, _messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        for i, chunk in enumerate(self.chunks):
            if self.fail_after is not None and i == self.fail_after:
                raise RuntimeError("the provider fell over")
            if self.gate is not None and i == self.pause_after:
                await self.gate.wait()
            yield chunk

    def agent(self) -> Agent[None, str]:
        return Agent(FunctionModel(stream_function=self.stream, model_name="scripted"))


def answers_a_prompt(messages: list[ModelMessage]) -> bool:
    """True if the model is called on a user's prompt (the last request carries one), not on
    the results of its own tool calls."""
    last = messages[-1]
    return isinstance(last, ModelRequest) and any(isinstance(p, UserPromptPart) for p in last.parts)


def tool_agent(
    *,
    thinking: bool = True,
    model_name: str = "tools",
    answer: str | None = None,
    fails_on: str | None = None,
) -> Agent[None, str]:
    """An agent that calls its `temperature` tool once (thinking first, unless not
    `thinking`), then answers (`answer` line by line, if given). A prompt equal to `fails_on`
    makes the model raise instead."""

    async def stream(
        messages: list[ModelMessage], _info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls | DeltaThinkingCalls]:
        if fails_on is not None and prompts_of(messages)[-1:] == [fails_on]:
            raise RuntimeError("the model fell over")
        if answers_a_prompt(messages):
            if thinking:
                yield {0: DeltaThinkingPart(content="The user wants the weather. ")}
                yield {0: DeltaThinkingPart(content="I'll call the tool.")}
            index = 1 if thinking else 0
            yield {index: DeltaToolCall(name="temperature", json_args='{"city": "Paris"}')}
            return
        if answer is None:
            yield "It is "
            yield "21 °C in Paris."
            return
        for line in answer.splitlines(keepends=True):
            yield line

    agent = Agent(FunctionModel(stream_function=stream, model_name=model_name))

    @agent.tool_plain
    def temperature(city: str) -> str:
        """The temperature in a city."""
        return f"21 °C in {city}"

    return agent


def words_agent(
    count: int, pace: float, *, word: str = "word", model_name: str = "words"
) -> Agent[None, str]:
    """A reply of `count` words ("word0 word1 ..."), one every `pace` seconds."""

    async def stream(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        for i in range(count):
            await asyncio.sleep(pace)
            yield f"{word}{i} "

    return Agent(FunctionModel(stream_function=stream, model_name=model_name))


def approval_agent(seen: list[list[ModelMessage]] | None = None) -> Agent[None, str]:
    """Asks to run `delete_file`, a tool that needs the user's approval, then says what the
    tool returned. `seen` collects the messages of every model request."""

    async def stream(
        messages: list[ModelMessage], _info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        if seen is not None:
            seen.append(list(messages))
        last = messages[-1]
        returns = [p for p in getattr(last, "parts", []) if isinstance(p, ToolReturnPart)]
        if isinstance(last, ModelRequest) and returns:
            yield f"The tool said: {returns[0].content}"
            return
        yield "I will delete it. "
        yield {1: DeltaToolCall(name="delete_file", json_args='{"path": "/tmp/report.txt"}')}

    agent = Agent(FunctionModel(stream_function=stream, model_name="approving"))

    @agent.tool_plain(requires_approval=True)
    def delete_file(path: str, force: bool = False) -> str:
        """Delete a file."""
        return f"deleted {path}" + (" (forced)" if force else "")

    return agent


def payload_agent() -> Agent[None, str]:
    """Thinks the prompt, calls its `payloads` tool with it (the tool returns it), then answers
    with what the tool returned, 40 characters a chunk: one text in every place a reply shows."""

    async def stream(
        messages: list[ModelMessage], _info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls | DeltaThinkingCalls]:
        prompt = prompts_of(messages)[-1]
        if answers_a_prompt(messages):
            yield {0: DeltaThinkingPart(content=prompt)}
            yield {1: DeltaToolCall(name="payloads", json_args=json.dumps({"text": prompt}))}
            return
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        (text,) = [str(p.content) for p in last.parts if isinstance(p, ToolReturnPart)]
        for i in range(0, len(text), 40):
            yield text[i : i + 40]

    agent = Agent(FunctionModel(stream_function=stream, model_name="payloads"))

    @agent.tool_plain
    def payloads(text: str) -> str:
        """Returns its argument."""
        return text

    return agent
