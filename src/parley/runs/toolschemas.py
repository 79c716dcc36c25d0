"""The JSON schema of each tool a run's model was offered, for checking arguments a user edits
before approving a call (chat/approvals.py).

The schemas are what the model itself receives (`ModelRequestParameters.function_tools`), so the
agent's own tools, an MCP server's and any toolset's are all covered, whatever defines them:
the run's model is wrapped in a Pydantic AI `WrapperModel` that notes them on each request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext

__all__ = ["ToolSchemas"]


class ToolSchemas(WrapperModel):
    """`wrapped`, noting the parameters schema of every function tool it is offered."""

    def __init__(self, wrapped: Model | str) -> None:
        super().__init__(wrapped)
        self.schemas: dict[str, dict[str, Any]] = {}

    def _note(self, parameters: ModelRequestParameters) -> None:
        for tool in parameters.function_tools:
            self.schemas[tool.name] = tool.parameters_json_schema

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        self._note(model_request_parameters)
        return await super().request(messages, model_settings, model_request_parameters)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        self._note(model_request_parameters)
        async with super().request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            yield stream
