"""Agents for `parley serve --agent tests.support.agents_for_cli:<name>` in end-to-end tests.

Nothing from outside tests.support (no network, no test module): a real server process
imports this file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import (
    AgentInfo,
    DeltaThinkingCalls,
    DeltaThinkingPart,
    DeltaToolCall,
    DeltaToolCalls,
    FunctionModel,
)

from .models import approval_agent, prompts_of, tool_agent, words_agent

# Calls its `temperature` tool, then answers.
weather_agent: Agent[None, str] = tool_agent(thinking=False, model_name="weather")

# A long reply, a word every 50 ms: time enough to kill the server in the middle of it.
SLOW_WORDS = 80
slow_agent: Agent[None, str] = words_agent(SLOW_WORDS, 0.05, model_name="slow")


def slow_reply() -> str:
    return "".join(f"word{i} " for i in range(SLOW_WORDS))


# A reply that takes a minute, a word every 100 ms: it is still generating at the end of
# any test that does not stop it, and a test that sees it end in seconds saw it stopped.
LONG_WORDS = 600
long_agent: Agent[None, str] = words_agent(LONG_WORDS, 0.1, model_name="long")

# Asks for the user's approval before running its `delete_file` tool.
approving_agent: Agent[None, str] = approval_agent()


def _protocol_agent() -> Agent[None, str]:
    """One agent for every case a protocol client meets (tests/protocols): a prompt holding
    "slow" gets a minute-long reply (stop it); "delete" asks to run `delete_file`, which needs
    the user's approval; anything else a short reply after a thought, naming the prompt and
    how many prompts the model saw (the history is the server's)."""

    async def stream(
        messages: list[ModelMessage], _info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls | DeltaThinkingCalls]:
        last = messages[-1]
        returns = [p for p in getattr(last, "parts", []) if isinstance(p, ToolReturnPart)]
        if isinstance(last, ModelRequest) and returns:
            yield f"The tool said: {returns[0].content}"
            return
        prompts = prompts_of(messages)
        prompt = prompts[-1] if prompts else ""
        if "slow" in prompt:
            for i in range(LONG_WORDS):
                await asyncio.sleep(0.1)
                yield f"word{i} "
            return
        if "delete" in prompt:
            yield "I will delete it. "
            yield {1: DeltaToolCall(name="delete_file", json_args='{"path": "/tmp/report.txt"}')}
            return
        yield {0: DeltaThinkingPart(content="Thinking about it.")}
        for piece in ("You said: ", prompt, f". Prompts seen: {len(prompts)}."):
            yield piece

    agent = Agent(FunctionModel(stream_function=stream, model_name="protocols"))

    @agent.tool_plain(requires_approval=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        return f"deleted {path}"

    return agent


protocol_agent: Agent[None, str] = _protocol_agent()
