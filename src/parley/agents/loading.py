"""Which agent answers: a Pydantic AI model string, or the user's own `Agent` (found by
importing.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.agent import AbstractAgent
from pydantic_ai.models import Model, infer_model

from ..settings import Settings
from .errors import AgentConfigError
from .importing import import_agent
from .local import LocalModel, bundled_model_path, llama_cpp_installed
from .local.engine import Sampling

__all__ = ["AgentConfigError", "load_agent", "load_model", "load_models"]


LOCAL_PREFIX = "local:"
NO_MODEL = (
    "no model to answer with: set PARLEY_MODEL (for example openai:gpt-4o) or install "
    "parley[local] for the bundled offline model"
)
BUNDLED_NOTICE = (
    "This is SmolLM2-135M, a tiny model that ships with Parley so it works out of the box, "
    "offline. Expect short and often wrong answers; the README says how to use a provider."
)


def model_specs(settings: Settings) -> list[str]:
    """The configured model strings, the default first (none: the agent's own model)."""
    if settings.models:
        return list(dict.fromkeys(settings.models))
    return [settings.model] if settings.model else []


def load_model(spec: str, settings: Settings) -> Model:
    if spec.startswith(LOCAL_PREFIX):
        return _local_model(Path(spec.removeprefix(LOCAL_PREFIX)), settings)
    try:
        return infer_model(spec)
    except Exception as exc:  # the provider's own message says what is missing
        raise AgentConfigError(f"cannot use model {spec!r}: {exc}") from exc


def load_models(settings: Settings) -> list[tuple[str, Model]]:
    """Each configured model with its id for the catalog: the model string, or for a GGUF
    file `local:` and its name (not the path of a file on the server)."""
    found = []
    for spec in model_specs(settings):
        model = load_model(spec, settings)
        found.append((model_label_of(model) if isinstance(model, LocalModel) else spec, model))
    return found


def load_agent(settings: Settings, models: list[tuple[str, Model]]) -> AbstractAgent[Any, Any]:
    """The user's agent, or an agent of the default model (of `models`, loaded already)."""
    if settings.agent:
        return import_agent(settings.agent)
    if models:
        return Agent(models[0][1])
    # No model configured: the bundled local model, so a fresh install answers offline. It is
    # the `parley[local]` extra (llama.cpp and the GGUF file): without it, say how to choose.
    bundled = bundled_model_path()
    if bundled is None or not llama_cpp_installed():
        raise AgentConfigError(NO_MODEL)
    return Agent(_local_model(bundled, settings))


def close_agent(agent: AbstractAgent[Any, Any], models: list[tuple[str, Model]]) -> None:
    """Free what the models hold (a local model's llama.cpp context)."""
    if isinstance(agent.model, LocalModel) or any(isinstance(m, LocalModel) for _, m in models):
        from .local.engine import close_engines

        close_engines()


def model_label(agent: AbstractAgent[Any, Any]) -> str:
    model = agent.model
    if isinstance(model, Model):
        return model_label_of(model)
    return str(model) if model else "unknown"


def model_label_of(model: Model) -> str:
    """The model string that names `model`, as `PARLEY_MODEL` would take it.

    Pydantic AI's `model_id` is `system:name`, and both OpenAI APIs' system is "openai", while
    `openai:` names the Responses API: a Chat Completions model is `openai-chat:`.
    """
    from pydantic_ai.models.openai import OpenAIChatModel

    if isinstance(model, OpenAIChatModel) and model.system == "openai":
        return f"openai-chat:{model.model_name}"
    return f"{model.system}:{model.model_name}"


def model_notice(agent: AbstractAgent[Any, Any]) -> str | None:
    """What the UI should say about the model, if anything."""
    model = agent.model
    if isinstance(model, LocalModel) and model.path == bundled_model_path():
        return BUNDLED_NOTICE
    return None


def _local_model(path: Path, settings: Settings) -> LocalModel:
    if not path.is_file():
        raise AgentConfigError(f"no model file at {path} (local: takes the path of a .gguf file)")
    try:
        import llama_cpp  # noqa: F401
    except ImportError as exc:
        raise AgentConfigError(
            f"local models need llama-cpp-python (install parley[local]): {exc}"
        ) from exc
    return LocalModel(
        path,
        n_ctx=settings.local_context,
        sampling=Sampling(max_tokens=settings.local_max_tokens),
    )
