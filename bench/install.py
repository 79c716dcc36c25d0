"""Installing Parley from its wheel: `python -m bench.install` (a minute or two; `--quick` for
one run of each).

- the wheel: `uv build --wheel` of this checkout, its size;
- install: `uv pip install` of the wheel into a fresh virtual environment (`uv venv`, this
  Python), pinned to the project's versions, without and with the `local` extra. The uv cache
  is warm (an unmeasured install first): what a second install on the same machine costs, not
  downloading. With `local`, llama-cpp-python comes as a wheel made from the copy this
  interpreter runs (tests/support/install.py says why): what uv's build cache gives when it
  hits. Compiling llama.cpp itself, once per machine, is minutes on top;
- start: `parley serve` of the provider-only environment, with an OpenAI-compatible fake
  provider on 127.0.0.1, from the process start to the first HTTP answer (`ready`) and to the
  first reply read to its end (`first reply`: a new conversation and one prompt, streamed), and
  the CPU seconds the server process had used by then (less moved by other load on the machine
  than the wall-clock figures). The first start after the install compiles every module's
  bytecode (`uv pip` writes none); the later ones are the median of the runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from tests.support.client import new_conversation, send
from tests.support.fake_openai import FakeOpenAI, provider_env
from tests.support.install import build_wheel, install, llama_cpp_wheel, new_venv, serving

from .table import table

PROMPT = "Hello from a fresh install"


def _installs(requirement: str, runs: int, tmp: Path, links: Path | None = None) -> list[float]:
    """Seconds of `uv pip install REQUIREMENT` into `runs` fresh environments (directories of
    `tmp`), after one unmeasured install (which warms uv's cache)."""
    seconds = []
    for run in range(runs + 1):
        directory = Path(tempfile.mkdtemp(dir=tmp))
        python = new_venv(directory / "venv")
        took = install(python, requirement, directory, find_links=links)
        if run:
            seconds.append(took)
    return seconds


def _start(venv: Path, directory: Path, fake: FakeOpenAI) -> tuple[float, float, float]:
    """Seconds from starting `parley serve` to its first HTTP answer, and to the end of its
    first reply; and the CPU seconds the server had used by then (which other load on the
    machine moves less than the wall-clock figures)."""
    directory.mkdir()
    started = time.monotonic()
    with serving(venv, directory, env=provider_env(fake, "openai:gpt-4o")) as server:
        client = httpx.Client(base_url=server.url, trust_env=False, timeout=30)
        with client:
            while True:
                if server.process.poll() is not None:
                    raise RuntimeError(f"parley serve exited:\n{server.output()}")
                try:
                    if client.get("/api/auth/me").is_success:
                        break
                except httpx.TransportError:
                    time.sleep(0.01)
            ready = time.monotonic() - started
            frames = send(client, new_conversation(client), PROMPT)
            replied = time.monotonic() - started
            cpu = server.cpu()
            assert frames[-1].event == "done", frames
    assert cpu is not None, "no /proc to read the CPU time from"
    return ready, replied, cpu


def _row(name: str, seconds: list[float]) -> list[str]:
    figures = (statistics.median(seconds), min(seconds), max(seconds))
    return [name, *(f"{x:.2f}" for x in figures), str(len(seconds))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one run of each")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else 5
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        started = time.monotonic()
        wheel = build_wheel(tmp / "dist")
        built = time.monotonic() - started
        size = wheel.stat().st_size
        (tmp / "links").mkdir()
        llama_cpp_wheel(tmp / "links")
        installs = tmp / "installs"
        installs.mkdir()
        bare = _installs(str(wheel), runs, installs)
        local = _installs(f"{wheel}[local]", runs, installs, links=tmp / "links")

        directory = tmp / "serve"
        directory.mkdir()
        python = new_venv(directory / "venv")
        install(python, str(wheel), directory)
        fake = FakeOpenAI().start()
        try:
            first = _start(directory / "venv", directory / "start-0", fake)
            later = [_start(directory / "venv", directory / f"start-{i}", fake)
                     for i in range(1, runs + 1)]  # fmt: skip
        finally:
            fake.stop()
        version = subprocess.run(
            [python, "-m", "parley", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()

    print(f"{version}: wheel {wheel.name}, {size / 1024:,.0f} KiB "
          f"(uv build --wheel: {built:.1f} s)\n")  # fmt: skip
    rows = [
        _row("install, no extra (warm uv cache)", bare),
        _row("install, [local] (warm uv cache, llama.cpp built)", local),
        _row("serve → ready, first start (no bytecode yet)", [first[0]]),
        _row("serve → first reply, first start", [first[1]]),
        _row("  server CPU until then", [first[2]]),
        _row("serve → ready", [r for r, _, _ in later]),
        _row("serve → first reply", [f for _, f, _ in later]),
        _row("  server CPU until then", [c for _, _, c in later]),
    ]
    print("\n".join(table(["seconds", "median", "min", "max", "runs"], rows)))


if __name__ == "__main__":
    main()
