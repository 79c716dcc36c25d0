"""A model's label is the model string that names it, so what the page shows can be pasted back
into PARLEY_MODEL."""

from __future__ import annotations

import pytest
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.ollama import OllamaProvider
from pydantic_ai.providers.openai import OpenAIProvider

from parley.agents.loading import model_label


@pytest.mark.parametrize(
    ("model", "label"),
    [
        (OpenAIChatModel("gpt-4o", provider=OpenAIProvider(api_key="x")), "openai-chat:gpt-4o"),
        (OpenAIResponsesModel("gpt-4o", provider=OpenAIProvider(api_key="x")), "openai:gpt-4o"),
        (
            OpenAIChatModel(
                "llama3", provider=OllamaProvider(base_url="http://127.0.0.1:1/v1", api_key="x")
            ),
            "ollama:llama3",
        ),
    ],
)
def test_the_label_is_the_model_string(model: OpenAIChatModel, label: str) -> None:
    assert model_label(Agent(model)) == label
