"""The models people may choose from, and what is known of each.

The operator lists them (`PARLEY_MODELS`, or `--model` given more than once); the first is the
default. With the user's own agent, each runs through the run's `model=` override: the agent's
tools and instructions are kept. Without a list, the one choice is the agent's own model.

What is known of a model comes from Pydantic AI's model profile (context window, whether it
takes images and documents) and genai-prices (price per million tokens). A profile's file flags
default to "nothing says otherwise": a flag no profile layer set is marked assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import genai_prices
from pydantic_ai.agent import AbstractAgent
from pydantic_ai.models import Model

from .local import LocalModel

# The profile flags shown, by the name the API gives them.
_FLAGS = {"images": "supports_image_input", "documents": "supports_document_input"}


@dataclass(frozen=True)
class ModelChoice:
    """One model to choose from. `model` is what a run is given (None: the agent's own)."""

    id: str
    model: Model | None
    context_window: int | None = None
    images: bool = False
    documents: bool = False
    # Which of `images`, `documents` only say nothing is known against them.
    assumed: list[str] = field(default_factory=list)
    # USD per million tokens; None when genai-prices does not know the model.
    input_price: float | None = None
    output_price: float | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "context_window": self.context_window,
            "images": self.images,
            "documents": self.documents,
            "assumed": self.assumed,
            "input_price": self.input_price,
            "output_price": self.output_price,
        }


class Catalog:
    """The choices in the operator's order; the first is the default."""

    def __init__(self, choices: list[ModelChoice]) -> None:
        assert choices, "a catalog has at least the default model"
        self.choices = choices
        self._by_id = {c.id: c for c in choices}

    @property
    def default(self) -> ModelChoice:
        return self.choices[0]

    def get(self, model_id: str) -> ModelChoice | None:
        return self._by_id.get(model_id)

    def for_conversation(self, model_id: str | None) -> ModelChoice:
        """The conversation's model; the default when it has none, or one no longer offered."""
        return (self.get(model_id) if model_id else None) or self.default


def build_catalog(
    agent: AbstractAgent[Any, Any], models: list[tuple[str, Model]], own_label: str
) -> Catalog:
    """The catalog of `models` (id, instance), or of the agent's own model alone."""
    if models:
        return Catalog([describe(model_id, model) for model_id, model in models])
    own = agent.model if isinstance(agent.model, Model) else None
    if own is None:
        return Catalog([ModelChoice(own_label, None)])
    # The agent's own model is what runs with no override.
    return Catalog([replace(describe(own_label, own), model=None)])


def describe(model_id: str, model: Model) -> ModelChoice:
    if isinstance(model, LocalModel):
        # A GGUF file run by llama.cpp: text only, its window what it was loaded with.
        return ModelChoice(model_id, model, context_window=model.n_ctx)
    profile = model.profile
    known = _provider_profile(model)
    flags = {name: bool(profile.get(key, True)) for name, key in _FLAGS.items()}
    return ModelChoice(
        model_id,
        model,
        context_window=profile.get("context_window"),
        images=flags["images"],
        documents=flags["documents"],
        assumed=[name for name, key in _FLAGS.items() if flags[name] and key not in known],
        input_price=_price(model, input_tokens=1_000_000),
        output_price=_price(model, output_tokens=1_000_000),
    )


def _provider_profile(model: Model) -> dict[str, Any]:
    """What the model's provider says of it, without Pydantic AI's defaults merged in."""
    provider = model.provider
    if provider is None:
        return {}
    try:
        found = provider.model_profile(model.model_name)
    except Exception:
        return {}
    return dict(found or {})


def _price(model: Model, **tokens: int) -> float | None:
    """What `tokens` cost with this model, in USD; None if genai-prices does not know it."""
    usage = genai_prices.Usage(**tokens)
    for reference in ({"provider_api_url": model.base_url}, {"provider_id": model.system}):
        if not any(reference.values()):
            continue
        try:
            price: Decimal = genai_prices.calc_price(
                usage, model.model_name, **reference
            ).total_price
        except LookupError:
            continue
        return float(price)
    return None
