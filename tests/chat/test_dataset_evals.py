"""The feedback export (chat/dataset.py) read by pydantic-evals itself: `Dataset.from_file` on
the JSON and the YAML file, in a virtual environment of its own (its release pins another
pydantic-ai-slim than Parley's), and an evaluation run on what it loaded."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ..support.client import branch, new_conversation, send
from ..support.databases import sqlite_url
from ..support.models import Echo, reply_to

pytestmark = pytest.mark.slow

# The release checked against; `uv pip install --dry-run pydantic-evals` names the newest.
PYDANTIC_EVALS = "pydantic-evals==2.62.0"

# Run in the other environment: load the file as a typed dataset, evaluate a task that gives
# the expected output of every good case, and print what was loaded and what the
# evaluators said of each case.
_LOAD = """
import json, sys
from typing import Any
from pydantic_evals import Dataset
from pydantic_evals.evaluators import EqualsExpected

dataset = Dataset[dict[str, Any], str, dict[str, Any]].from_file(sys.argv[1])
dataset.add_evaluator(EqualsExpected())
replies = {c.inputs["prompt"]: c.expected_output for c in dataset.cases}
report = dataset.evaluate_sync(lambda inputs: replies[inputs["prompt"]] or "", progress=False)
print(json.dumps({
    "name": dataset.name,
    "cases": [
        {
            "name": c.name,
            "inputs": c.inputs,
            "metadata": c.metadata,
            "expected_output": c.expected_output,
        }
        for c in dataset.cases
    ],
    "assertions": {
        c.name: {k: r.value for k, r in c.assertions.items()} for c in report.cases
    },
}))
"""
# What uv says when it cannot reach the package index.
_OFFLINE = ("error sending request", "dns error", "failed to fetch", "connection refused")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: what is under test is the file; tests/chat/test_feedback.py covers the
    export on both databases."""
    return sqlite_url(tmp_path / "parley.db")


def _evals_python(tmp_path: Path) -> Path:
    """A virtual environment with pydantic-evals; its Python."""
    uv = shutil.which("uv")
    assert uv is not None, "uv is needed to make pydantic-evals' own environment"
    venv = tmp_path / "evals"
    # The running Python, so uv downloads none; --no-config, or uv would apply Parley's own
    # pins (pyproject.toml's constraint-dependencies) to this environment too.
    subprocess.run(
        [uv, "venv", "-q", "--no-config", "--python", sys.executable, str(venv)], check=True
    )
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [uv, "pip", "install", "-q", "--no-config", "--python", str(python), PYDANTIC_EVALS],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    if installed.returncode != 0:
        if any(sign in installed.stderr.lower() for sign in _OFFLINE):
            pytest.skip(f"the package index is unreachable: {installed.stderr.strip()[:300]}")
        pytest.fail(f"could not install {PYDANTIC_EVALS}: {installed.stderr}")
    return python


def test_the_export_loads_in_pydantic_evals(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_client(Echo().agent())
    cid = new_conversation(client)
    send(client, cid, "Tell me\nin two lines")
    send(client, cid, "And again")
    first, second = (m["id"] for m in branch(client, cid)[1::2])
    url = f"/api/conversations/{cid}/messages/{{}}/feedback"
    client.put(url.format(first), json={"rating": "good", "comment": "Nice:\n  indented"})
    client.put(url.format(second), json={"rating": "bad", "comment": "Said it twice."})
    python = _evals_python(tmp_path)

    for format in ("json", "yaml"):
        path = tmp_path / f"rated.{format}"
        response = client.get("/api/feedback", params={"format": format})
        assert response.status_code == 200, response.text
        path.write_bytes(response.content)
        loaded = subprocess.run(
            [str(python), "-c", _LOAD, str(path)], capture_output=True, text=True, timeout=120
        )
        assert loaded.returncode == 0, loaded.stderr
        result: dict[str, Any] = json.loads(loaded.stdout)

        assert result["name"] == "parley-feedback"
        good, bad = result["cases"]
        assert good["inputs"] == {"prompt": "Tell me\nin two lines", "history": []}
        assert good["expected_output"] == reply_to("Tell me\nin two lines")
        assert good["metadata"]["rating"] == "good"
        assert good["metadata"]["comment"] == "Nice:\n  indented"
        assert good["metadata"]["model"] == "function:echo"
        assert bad["inputs"]["prompt"] == "And again"
        assert [t["role"] for t in bad["inputs"]["history"]] == ["user", "assistant"]
        assert bad["expected_output"] is None
        assert bad["metadata"]["reply"] == reply_to("And again")
        # The good case is checked against its reply; a bad one has nothing to equal.
        assert result["assertions"] == {good["name"]: {"EqualsExpected": True}, bad["name"]: {}}
        # Exactly what Parley wrote, nothing lost or added on the way.
        assert result["cases"] == client.get("/api/feedback").json()["cases"]
