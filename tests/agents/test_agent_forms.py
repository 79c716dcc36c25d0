"""`--agent`'s three forms from a developer's own project directory, and each wrong form's
one-line error."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic_ai import Agent

from parley.agents.errors import AgentConfigError
from parley.agents.importing import import_agent

from ..support.client import saved_messages, send
from ..support.processes import Server

AGENT_SOURCE = """
from pydantic_ai import Agent

from {helper} import INSTRUCTIONS

agent = Agent("test", instructions=INSTRUCTIONS)
not_an_agent = "hello"
"""


def _project(tmp_path: Path) -> tuple[Path, str]:
    """A project directory holding a module (and a neighbour it imports) under a name no
    other test uses: the modules stay imported for the rest of the run."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    name = f"bot_{uuid.uuid4().hex[:8]}"
    helper = f"{name}_helper"
    (tmp_path / f"{helper}.py").write_text('INSTRUCTIONS = "Be brief."\n')
    (tmp_path / f"{name}.py").write_text(AGENT_SOURCE.format(helper=helper))
    return tmp_path, name


def test_a_module_of_the_current_directory(tmp_path: Path) -> None:
    here, name = _project(tmp_path)
    agent = import_agent(f"{name}:agent", cwd=here)
    assert isinstance(agent, Agent)


def test_a_file_path(tmp_path: Path) -> None:
    here, name = _project(tmp_path / "project")
    agent = import_agent(f"project/{name}.py:agent", cwd=tmp_path)
    assert isinstance(agent, Agent)
    absolute = import_agent(f"{here / name}.py:agent", cwd=Path("/"))
    assert isinstance(absolute, Agent)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("agent.yaml", "model: test\ninstructions: Be brief.\n"),
        ("agent.json", '{"model": "test", "instructions": "Be brief."}'),
    ],
)
def test_an_agent_spec_file(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    agent = import_agent(name, cwd=tmp_path)
    assert isinstance(agent, Agent)


def test_each_wrong_form_says_what_could_not_be_found(tmp_path: Path) -> None:
    here, name = _project(tmp_path)
    (here / "broken.py").write_text("raise RuntimeError('no key set')\n")
    (here / "bad.yaml").write_text("model: [unclosed\n")
    cases = {
        f"{name}": "--agent takes package.module:attribute",
        "no_such_module_here:agent": "no module named 'no_such_module_here'",
        f"{name}:missing": "has no attribute 'missing'",
        f"{name}:not_an_agent": "is not a Pydantic AI Agent (it is a str)",
        "missing.py:agent": "no file",
        "broken.py:agent": "loading",
        "missing.yaml": "no agent spec file",
        "bad.yaml": "cannot be used",
    }
    for spec, says in cases.items():
        with pytest.raises(AgentConfigError) as caught:
            import_agent(spec, cwd=here)
        message = str(caught.value)
        assert says in message, (spec, message)
        assert "\n" not in message, (spec, message)


def test_parley_serve_finds_the_agent_of_the_project_it_runs_in(
    tmp_path: Path, serve: Callable[..., Server]
) -> None:
    here, name = _project(tmp_path / "project")
    server = serve("--agent", f"{name}:agent", cwd=here, script=True)
    with server.client() as client:
        cid = client.post("/api/conversations", json={}).json()["id"]
        frames = send(client, cid, "hi")
        assert frames[-1].data["status"] == "complete"
        (reply,) = saved_messages(client, cid)[1:]
    # Pydantic AI's TestModel answered: the project's agent, not the bundled model.
    assert reply["text"] == "success (no tool calls)", reply
