"""An agent whose model calls MCP tools by name, for tests, benchmarks and
`parley serve --agent tests.support.mcp_agents:agent`.

The prompt names the call: `call calc_add {"a": 2, "b": 3}` makes the model call `calc_add`
with those arguments, then answer `result: <what the tool returned>`. Any other prompt is
answered without a tool. Each call on a prompt records the tools the model was offered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from .models import answers_a_prompt, prompts_of


@dataclass
class ToolCaller:
    offered: list[list[str]] = field(default_factory=list)

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        if answers_a_prompt(messages):
            self.offered.append(sorted(t.name for t in info.function_tools))
            name, _, args = prompts_of(messages)[-1].removeprefix("call ").partition(" ")
            if name in {t.name for t in info.function_tools}:
                yield {0: DeltaToolCall(name=name, json_args=args or "{}")}
                return
            yield f"no tool {name}"
            return
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        returns = [p for p in last.parts if isinstance(p, ToolReturnPart)]
        yield "result: " + (returns[0].model_response_str() if returns else "none")

    def agent(self) -> Agent[None, str]:
        return Agent(FunctionModel(stream_function=self.stream, model_name="mcp-caller"))


# For `parley serve --agent tests.support.mcp_agents:agent`.
agent: Agent[None, str] = ToolCaller().agent()
