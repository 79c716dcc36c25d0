"""A process that used the local model exits cleanly: the model is freed before the interpreter
tears down the modules llama-cpp-python's finalizer needs."""

from __future__ import annotations

import subprocess
import sys

from ..support.processes import ROOT

_SCRIPT = """
from pydantic_ai import Agent
from parley.agents.local import LocalModel, bundled_model_path
from parley.agents.local.engine import Sampling

path = bundled_model_path()
assert path is not None
agent = Agent(LocalModel(path, n_ctx=512, sampling=Sampling(max_tokens=4, seed=1)))
print("reply:", bool(agent.run_sync("Say hi").output is not None))
"""


def test_a_process_that_used_the_local_model_exits_without_errors() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "reply: True" in done.stdout
    # What llama-cpp-python printed at exit when the model was left to the garbage collector.
    assert "Exception ignored" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
