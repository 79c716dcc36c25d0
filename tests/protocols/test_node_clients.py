"""The protocols checked with their own client libraries from the npm registry, not only with
our reading of the specs: Node scripts using `ai` (the AI SDK) and `@ag-ui/client` against a
real `parley serve`, each streaming a reply, reloading it, stopping one and answering a tool
approval.

The packages are installed outside the repository, without a lock file (.ci/run):
`npm install --prefix /tmp/parley-node --no-save --no-package-lock ai@… @ag-ui/client@…`;
PARLEY_NODE_MODULES points elsewhere. Without Node or the packages these tests skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ..support.processes import Server

HERE = Path(__file__).parent
NODE_MODULES = Path(os.environ.get("PARLEY_NODE_MODULES", "/tmp/parley-node/node_modules"))
AGENT = "tests.support.agents_for_cli:protocol_agent"


def _node(package: str) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node is not installed: the protocol clients' tests need it (.ci/run)")
    if not (NODE_MODULES / package / "package.json").is_file():
        pytest.skip(
            f"the npm package {package} is not in {NODE_MODULES}: install it as .ci/run does "
            "(or set PARLEY_NODE_MODULES)"
        )
    return node


def _run(node: str, script: str, server: Server) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PARLEY_URL": server.url,
        "PARLEY_NODE_MODULES": str(NODE_MODULES),
    }
    done = subprocess.run(
        [node, str(HERE / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (
        f"{script} failed:\n{done.stdout}\n{done.stderr}\n-- server --\n{server.output()[-4000:]}"
    )


def test_the_ai_sdk_client(serve: Callable[..., Server]) -> None:
    node = _node("ai")
    _run(node, "vercel_ai.mjs", serve("--agent", AGENT))


def test_the_ag_ui_client(serve: Callable[..., Server]) -> None:
    node = _node("@ag-ui/client")
    _run(node, "ag_ui.mjs", serve("--agent", AGENT))
