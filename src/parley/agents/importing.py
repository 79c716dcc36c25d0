"""Finding the user's own agent from `--agent`: the three forms a developer types.

- `module:attribute`, importable from the current directory (which goes first on the import
  path, as uvicorn and `clai` do: `parley serve --agent bot:agent` from a project works);
- `path/to/bot.py:attribute`, a file loaded as a module (its directory on the import path, so
  it can import its neighbours);
- `path/to/agent.yaml` or `.json`, a Pydantic AI agent spec (`Agent.from_file`).

Each failure is an AgentConfigError whose one line names what could not be found.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic_ai import Agent
from pydantic_ai.agent import AbstractAgent

from .errors import AgentConfigError

_SPEC_SUFFIXES: dict[str, Literal["yaml", "json"]] = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
}
FORMS = "package.module:attribute, path/to/file.py:attribute, or an agent spec (.yaml, .json)"


def import_agent(spec: str, cwd: Path | None = None) -> AbstractAgent[Any, Any]:
    """The agent `spec` names (see the module's docstring)."""
    here = (cwd or Path.cwd()).resolve()
    if Path(spec).suffix.lower() in _SPEC_SUFFIXES:
        return _from_spec_file(here / spec)
    target, _, attribute = spec.rpartition(":")
    if not target or not attribute or not attribute.isidentifier():
        raise AgentConfigError(f"--agent takes {FORMS}, not {spec!r}")
    if target.endswith(".py") or "/" in target or "\\" in target:
        module = _from_file(here / target)
    else:
        module = _from_import_path(target, here)
    agent = getattr(module, attribute, None)
    if agent is None:
        raise AgentConfigError(f"{target} has no attribute {attribute!r}")
    if not isinstance(agent, AbstractAgent):
        raise AgentConfigError(
            f"{spec} is not a Pydantic AI Agent (it is a {type(agent).__name__})"
        )
    return agent


def _from_import_path(name: str, here: Path) -> ModuleType:
    # The current directory first, as `python -m` and uvicorn put it: a developer's own
    # package beats an installed one of the same name.
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise AgentConfigError(
                f"no module named {name!r} in {here} or on the import path"
            ) from exc
        raise AgentConfigError(f"importing {name!r} failed: {exc}") from exc
    except Exception as exc:  # the module itself raised while importing
        raise AgentConfigError(f"importing {name!r} failed: {type(exc).__name__}: {exc}") from exc


def _from_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise AgentConfigError(f"no file {path}")
    name = path.stem if path.stem.isidentifier() else "parley_agent"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise AgentConfigError(f"{path} is not a Python file Parley can load")
    module = importlib.util.module_from_spec(loader_spec)
    # Its neighbours importable, and the module registered under its name before it runs (as
    # an import would): dataclasses and pickling look it up in sys.modules.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise AgentConfigError(f"loading {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _from_spec_file(path: Path) -> AbstractAgent[Any, Any]:
    if not path.is_file():
        raise AgentConfigError(f"no agent spec file {path}")
    try:
        agent: Agent[Any, Any] = Agent.from_file(path, fmt=_SPEC_SUFFIXES[path.suffix.lower()])
    except Exception as exc:  # a spec Pydantic AI refuses: its own message says why
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AgentConfigError(f"the agent spec {path} cannot be used: {first}") from exc
    return agent
