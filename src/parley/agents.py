"""Which agent answers: a Pydantic AI model string, or the user's own `Agent`."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.agent import AbstractAgent
from pydantic_ai.models import Model

from .settings import Settings


class AgentConfigError(Exception):
    """The configured model or agent cannot be used; the message is one line for the user."""


def load_agent(settings: Settings) -> AbstractAgent[Any, Any]:
    if settings.agent:
        return _import_agent(settings.agent)
    if settings.model:
        try:
            return Agent(settings.model)
        except Exception as exc:  # the provider's own message says what is missing
            raise AgentConfigError(f"cannot use model {settings.model!r}: {exc}") from exc
    raise AgentConfigError(
        "no model configured: set PARLEY_MODEL or pass --model (for example openai:gpt-4o), "
        "or pass --agent package.module:attribute"
    )


def model_label(agent: AbstractAgent[Any, Any]) -> str:
    model = agent.model
    if isinstance(model, Model):
        return f"{model.system}:{model.model_name}"
    return str(model) if model else "unknown"


def _import_agent(spec: str) -> AbstractAgent[Any, Any]:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise AgentConfigError(f"--agent must look like package.module:attribute, not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AgentConfigError(f"cannot import {module_name!r}: {exc}") from exc
    agent = getattr(module, attribute, None)
    if not isinstance(agent, AbstractAgent):
        raise AgentConfigError(f"{spec} is not a Pydantic AI Agent (got {type(agent).__name__})")
    return agent
