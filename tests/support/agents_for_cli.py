"""Agents for `parley serve --agent tests.support.agents_for_cli:<name>` in end-to-end tests.

Self-contained (no network, no other test module): a real server process imports this file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel


async def _weather(
    messages: list[ModelMessage], _info: AgentInfo
) -> AsyncIterator[str | DeltaToolCalls]:
    # A fresh prompt gets a tool call; the request that carries the tool's return gets text.
    last = messages[-1]
    if isinstance(last, ModelRequest) and any(isinstance(p, UserPromptPart) for p in last.parts):
        yield {0: DeltaToolCall(name="temperature", json_args='{"city": "Paris"}')}
        return
    yield "It is "
    yield "21 °C in Paris."


weather_agent: Agent[None, str] = Agent(
    FunctionModel(stream_function=_weather, model_name="weather")
)


@weather_agent.tool_plain
def temperature(city: str) -> str:
    """The temperature in a city."""
    return f"21 °C in {city}"


SLOW_WORDS = 80


async def _slow(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
    # A long reply, a word every 50 ms: time enough to kill the server in the middle of it.
    for i in range(SLOW_WORDS):
        await asyncio.sleep(0.05)
        yield f"word{i} "


slow_agent: Agent[None, str] = Agent(FunctionModel(stream_function=_slow, model_name="slow"))


def slow_reply() -> str:
    return "".join(f"word{i} " for i in range(SLOW_WORDS))


LONG_WORDS = 600


async def _long(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
    # A reply that takes a minute, a word every 100 ms: it is still generating at the end of
    # any test that does not stop it, and a test that sees it end in seconds saw it stopped.
    for i in range(LONG_WORDS):
        await asyncio.sleep(0.1)
        yield f"word{i} "


long_agent: Agent[None, str] = Agent(FunctionModel(stream_function=_long, model_name="long"))
