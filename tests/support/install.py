"""Parley as a user installs it: the wheel `uv build` makes, installed with `uv pip` into a fresh
virtual environment (with or without the `local` extra), and `parley serve` started from there.
For tests/test_install.py and bench/install.py.

The installs take the project's pinned versions (pyproject's `constraint-dependencies` and
`override-dependencies`, as `uv pip`'s constraints and overrides files), and build nothing
(`--no-build`): a provider-only install must need no C compiler, and the `local` extra gets
llama-cpp-python as a wheel made from the copy this interpreter runs (`llama_cpp_wheel`), so no
test compiles llama.cpp for minutes.

Why not uv's cache of the wheel it built for the project: uv files a source distribution's
builds under the download they came from, and a download the package index serves without
caching headers (as the registry this project reaches does) is stale at once, so every install
downloads it again and starts a new, empty build cache.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .processes import ROOT, Server, free_port

PYPROJECT = ROOT / "pyproject.toml"
# Files an installer writes into a .dist-info directory: not part of the wheel.
_INSTALLER_FILES = frozenset(
    {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json", "uv_build.json", "uv_cache.json"}
)


def find_uv() -> str | None:
    """The uv that runs this process (`uv run` says which), else the one on PATH."""
    return os.environ.get("UV") or shutil.which("uv")


def _uv(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    uv = find_uv()
    assert uv is not None, "uv is not installed"
    done = subprocess.run(
        [uv, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"uv {' '.join(map(str, args))} failed:\n{done.stderr}")
    return done


def build_wheel(out: Path) -> Path:
    """`uv build --wheel` of this checkout, into `out`; the wheel file."""
    _uv("build", "--wheel", "--out-dir", out, cwd=ROOT)
    (wheel,) = out.glob("parley-*.whl")
    return wheel


def pin_options(directory: Path) -> list[str]:
    """`uv pip install` options that give an install the project's pinned versions, from files
    written into `directory`."""
    settings = tomllib.loads(PYPROJECT.read_text())["tool"]["uv"]
    constraints = directory / "constraints.txt"
    constraints.write_text("\n".join(settings["constraint-dependencies"]) + "\n")
    overrides = directory / "overrides.txt"
    overrides.write_text("\n".join(settings.get("override-dependencies", [])) + "\n")
    return ["--constraints", str(constraints), "--overrides", str(overrides)]


def llama_cpp_wheel(out: Path) -> Path:
    """llama-cpp-python as this interpreter has it installed (compiled once, by `uv sync`),
    packed back into a wheel in `out`: what a warm build cache gives an install."""
    return repack("llama-cpp-python", out)


def repack(name: str, out: Path) -> Path:
    """The installed distribution `name` as a wheel file in `out`: the files its RECORD lists
    (all under site-packages), its metadata, and a new RECORD."""
    dist = importlib.metadata.distribution(name)
    base = Path(str(dist.locate_file("")))
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]  # fmt: skip
    assert len(tags) == 1, f"{name}: expected one wheel tag, found {tags}"
    files = [Path(str(f)) for f in dist.files or []]
    (info,) = {f.parts[0] for f in files if f.parts[0].endswith(".dist-info")}
    project = info.removesuffix(".dist-info")  # `name-version`, normalized as a wheel's
    wheel = out / f"{project}-{tags[0]}.whl"
    record: list[str] = []
    # Stored, not compressed: it goes no further than the next install, and 20 MB of shared
    # libraries take seconds to deflate.
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        for path in files:
            assert ".." not in path.parts, f"{name}: {path} is outside site-packages"
            if "__pycache__" in path.parts or (
                path.parts[0] == info and path.name in _INSTALLER_FILES
            ):
                continue
            data = (base / path).read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            archive.writestr(path.as_posix(), data)
            record.append(f"{path.as_posix()},sha256={digest.decode()},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


def new_venv(path: Path) -> Path:
    """A fresh virtual environment at `path`, of this interpreter's Python (so uv downloads
    none); its Python."""
    _uv("venv", "--quiet", "--no-config", "--python", sys.executable, path, cwd=path.parent)
    return path / "bin" / "python"


def install(
    python: Path, requirement: str, directory: Path, *, find_links: Path | None = None
) -> float:
    """`uv pip install REQUIREMENT` into the environment of `python`, pinned, building nothing;
    the seconds it took."""
    links = ["--find-links", str(find_links)] if find_links else []
    started = time.monotonic()
    _uv(
        "pip", "install", "--quiet", "--no-config", "--no-build", "--python", python,
        *pin_options(directory), *links, requirement,
        cwd=directory,
    )  # fmt: skip
    return time.monotonic() - started


def has_module(python: Path, module: str) -> bool:
    """Whether `module` is importable by `python` (found, not imported)."""
    check = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    done = subprocess.run([python, "-c", check], cwd=python.parent, check=False)
    return done.returncode == 0


def environment(home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a user's shell gives the installed `parley`: no PARLEY_* and no PYTHONPATH (nothing
    of this checkout is importable), a home of its own, and `env`."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }


@contextmanager
def serving(
    venv: Path, directory: Path, *args: str, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """`parley serve` of the environment `venv`, run from `directory` on a SQLite file there,
    started (not yet answering: call `wait_ready`) and stopped after."""
    port = free_port()
    home = directory / "home"
    home.mkdir(exist_ok=True)
    database = f"sqlite+aiosqlite:///{directory / 'parley.db'}"
    command = [str(venv / "bin" / "parley"), "serve", "--port", str(port),
               "--database-url", database, *args]  # fmt: skip
    log = directory / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=directory, env=environment(home, env), stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        yield server
    finally:
        server.stop()
