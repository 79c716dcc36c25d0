"""The bundled local model: real generations with llama.cpp, in process, on the CPU."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters

from parley.agents.loading import BUNDLED_NOTICE, load_agent, model_label
from parley.agents.local import LocalModel, bundled_model_path
from parley.agents.local.engine import Preempted, Sampling
from parley.agents.local.model import ChatMessage, chat_messages, fit_to_context
from parley.runs.titles import INSTRUCTIONS, MAX_TITLE_CHARS, MAX_TITLE_TOKENS
from parley.settings import Settings

from ..support.browser import serve as serve_in_thread
from ..support.client import iter_frames, new_conversation, parse_sse, send
from ..support.databases import sqlite_url
from ..support.processes import Server


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: what these tests check is the local model,
    and every run is real llama.cpp inference on the CPU. The PostgreSQL side of the same paths runs
    in the API and end-to-end tests (tests/web, tests/runs)."""
    return sqlite_url(tmp_path / "parley.db")


BUNDLED = bundled_model_path()
SHORT = Sampling(max_tokens=12, temperature=0.0, seed=1)


class Recording(LocalModel):
    """The bundled model, recording the chat messages each request sends to llama.cpp."""

    def __init__(self, *, n_ctx: int = 2048, sampling: Sampling = SHORT) -> None:
        assert BUNDLED is not None
        super().__init__(BUNDLED, n_ctx=n_ctx, sampling=sampling)
        self.prompts: list[list[ChatMessage]] = []

    def prompt(
        self, messages: list[ModelMessage], parameters: ModelRequestParameters
    ) -> tuple[list[ChatMessage], int]:
        chat, tokens = super().prompt(messages, parameters)
        self.prompts.append(chat)
        return chat, tokens


def test_the_bundled_model_file_ships_with_the_install() -> None:
    assert BUNDLED is not None
    assert BUNDLED.stat().st_size > 50_000_000


def test_history_becomes_chat_messages() -> None:
    history: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart("weather?")]),
        ModelResponse(
            parts=[
                TextPart("Let me check."),
                ToolCallPart(tool_name="temp", args={"city": "Paris"}, tool_call_id="1"),
            ]
        ),
        ModelRequest(parts=[ToolReturnPart(tool_name="temp", content="21 C", tool_call_id="1")]),
        ModelResponse(parts=[TextPart("It is 21 C.")]),
        ModelRequest(parts=[UserPromptPart("and tomorrow?")]),
    ]
    chat = chat_messages(history, "Be brief.")
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert chat[0]["content"] == "Be brief."
    assert 'temp({"city":"Paris"})' in chat[2]["content"].replace(" ", "")
    assert "21 C" in chat[3]["content"]
    assert chat[-1]["content"] == "and tomorrow?"


def test_fitting_keeps_instructions_and_the_newest_turns() -> None:
    def words(text: str) -> int:
        return len(text.split())

    chat: list[ChatMessage] = [{"role": "system", "content": "sys"}]
    for i in range(10):
        chat.append({"role": "user", "content": f"question {i} " + "x " * 20})
        chat.append({"role": "assistant", "content": f"answer {i} " + "y " * 20})
    chat.append({"role": "user", "content": "last question"})
    fitted = fit_to_context(chat, 150, words)
    assert fitted[0] == {"role": "system", "content": "sys"}
    assert fitted[-1]["content"] == "last question"
    assert 2 < len(fitted) < len(chat)
    assert fitted[1:] == chat[len(chat) - len(fitted) + 1 :]  # a contiguous newest tail
    assert sum(words(m["content"]) + 8 for m in fitted) <= 150

    huge: list[ChatMessage] = [{"role": "user", "content": "start " + "z " * 1000 + "the end"}]
    cut = fit_to_context(huge, 100, words)
    assert cut[0]["content"].endswith("the end")
    assert words(cut[0]["content"]) <= 100


def test_no_model_configured_means_the_bundled_local_model() -> None:
    agent = load_agent(Settings(), [])
    assert isinstance(agent.model, LocalModel)
    assert agent.model.path == BUNDLED
    assert model_label(agent) == "local:SmolLM2-135M-Instruct.Q4_1"


def test_a_real_local_reply_streams_through_http(make_client: Callable[..., TestClient]) -> None:
    client = make_client(None, local_max_tokens=12)
    info = client.get("/api/info").json()
    assert info["model"] == "local:SmolLM2-135M-Instruct.Q4_1"
    assert info["model_notice"] == BUNDLED_NOTICE

    frames = send(client, new_conversation(client), "What is the capital of France?")
    texts = [f.data["d"] for f in frames if f.event == "text"]
    assert "".join(texts).strip()
    done = frames[-1].data
    assert done["status"] == "complete"
    assert 0 < done["usage"]["output_tokens"] <= 12
    assert done["usage"]["input_tokens"] > 5


def test_the_local_model_gets_the_earlier_turns(make_client: Callable[..., TestClient]) -> None:
    model = Recording()
    # No title request in between: the last prompt recorded is the second turn's.
    client = make_client(Agent(model), instructions="You are terse.", generate_titles=False)
    cid = new_conversation(client)
    first = send(client, cid, "My name is Ada.")
    send(client, cid, "What is my name?")
    first_reply = "".join(f.data["d"] for f in first if f.event == "text")
    second_prompt = model.prompts[-1]
    assert second_prompt[0] == {"role": "system", "content": "You are terse."}
    assert second_prompt[1] == {"role": "user", "content": "My name is Ada."}
    assert second_prompt[2] == {"role": "assistant", "content": first_reply}
    assert second_prompt[3] == {"role": "user", "content": "What is my name?"}


def test_the_local_model_writes_a_short_title(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = Recording(sampling=Sampling(max_tokens=40, temperature=0.0, seed=1))
    engine = model.engine()
    samplings: list[tuple[Sampling, bool]] = []
    stream = engine.stream

    def recording_stream(chat: list[ChatMessage], sampling: Sampling, background: bool) -> Any:
        samplings.append((sampling, background))
        return stream(chat, sampling, background=background)

    monkeypatch.setattr(engine, "stream", recording_stream)
    client = make_client(Agent(model))
    cid = new_conversation(client)
    send(client, cid, "Explain how rainbows form.")
    deadline = time.monotonic() + 60
    while (conversation := client.get(f"/api/conversations/{cid}").json())[
        "title_source"
    ] != "model":
        assert time.monotonic() < deadline, conversation
        time.sleep(0.1)
    assert 0 < len(conversation["title"]) <= MAX_TITLE_CHARS
    # The title request's cap reached llama.cpp, not the model's own (40 here, 512 by default).
    # It gave way to any reply (background).
    assert [(s.max_tokens, b) for s, b in samplings] == [(40, False), (MAX_TITLE_TOKENS, True)]
    assert model.prompts[-1][0]["content"] == INSTRUCTIONS


def test_a_conversation_longer_than_the_context_still_gets_an_answer(
    make_client: Callable[..., TestClient],
) -> None:
    model = Recording(n_ctx=512, sampling=Sampling(max_tokens=8, temperature=0.0, seed=1))
    client = make_client(Agent(model))
    cid = new_conversation(client)
    long_prompt = "Tell me about the history of the Roman Empire in detail. " * 12
    for _ in range(4):
        assert send(client, cid, long_prompt)[-1].data["status"] == "complete"
    frames = send(client, cid, "Summarise.")
    assert frames[-1].data["status"] == "complete"
    assert "".join(f.data["d"] for f in frames if f.event == "text").strip()
    sent = model.prompts[-1]
    assert sent[-1]["content"] == "Summarise."
    assert len(sent) < 9  # older turns were dropped to fit
    engine = model.engine()
    assert sum(engine.count_tokens(m["content"]) + 8 for m in sent) <= 512 - 8


def test_stop_ends_generation_at_once_and_frees_the_model(database_url: str) -> None:
    model = Recording(sampling=Sampling(max_tokens=400, temperature=0.8, seed=3))
    with (
        # No title after "Say hi.": the model must be idle when the test looks.
        serve_in_thread(Agent(model), database_url, generate_titles=False) as base,
        httpx.Client(base_url=base, trust_env=False, timeout=60) as client,
    ):
        cid = new_conversation(client)
        url = f"/api/conversations/{cid}/messages"
        run_id = ""
        with client.stream("POST", url, json={"prompt": "Write a very long story."}) as response:
            frames = iter_frames(response.iter_lines())
            for frame in frames:
                if frame.event == "start":
                    run_id = frame.data["run_id"]
                elif frame.event == "text":
                    break
            asked = time.monotonic()
            assert client.post(f"/api/runs/{run_id}/stop").status_code == 202
            rest = list(frames)
            stopped_after = time.monotonic() - asked
        assert rest[-1].data["status"] == "stopped"
        assert not model.engine().generating.is_set()
        assert stopped_after < 3.0, stopped_after  # generous; the note quotes the real figure
        again = send(client, cid, "Say hi.")
        assert again[-1].data["status"] == "complete"


def test_two_concurrent_requests_both_complete(database_url: str) -> None:
    model = Recording()
    with serve_in_thread(Agent(model), database_url, generate_titles=False) as base:

        async def both() -> list[str]:
            async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=120) as http:

                async def one(prompt: str) -> str:
                    cid = (await http.post("/api/conversations", json={})).json()["id"]
                    url = f"/api/conversations/{cid}/messages"
                    async with http.stream("POST", url, json={"prompt": prompt}) as response:
                        frames = parse_sse((await response.aread()).decode())
                    return str(frames[-1].data["status"])

                return list(await asyncio.gather(one("Name a colour."), one("Name a fruit.")))

        assert asyncio.run(both()) == ["complete", "complete"]


@pytest.mark.slow
def test_serve_answers_with_the_bundled_model_and_with_another_gguf(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    env = {"PARLEY_LOCAL_MAX_TOKENS": "12"}
    server = serve(env=env)
    with server.client() as client:
        assert client.get("/api/info").json()["model"] == "local:SmolLM2-135M-Instruct.Q4_1"
        cid = new_conversation(client)
        first = send(client, cid, "Hello!")
        second = send(client, cid, "What did I just say?")
        assert first[-1].data["status"] == second[-1].data["status"] == "complete"
        # The second request carried the first turn: more input tokens than its prompt alone.
        assert (
            second[-1].data["usage"]["input_tokens"] > first[-1].data["usage"]["input_tokens"] + 8
        )
    server.stop()

    assert BUNDLED is not None
    other = tmp_path / "other.gguf"
    shutil.copyfile(BUNDLED, other)
    server = serve("--model", f"local:{other}", env=env)
    with server.client() as client:
        info = client.get("/api/info").json()
        assert info["model"] == "local:other"
        assert info["model_notice"] is None
        assert send(client, new_conversation(client), "Hi")[-1].data["status"] == "complete"


def test_a_cancelled_queued_request_leaves_the_queue() -> None:
    assert BUNDLED is not None
    engine = LocalModel(BUNDLED).engine()
    chat: list[ChatMessage] = [{"role": "user", "content": "Count from one to twenty."}]
    sampling = Sampling(max_tokens=24, temperature=0.0, seed=1)

    async def scenario() -> tuple[str, str, bool]:
        async def collect() -> str:
            return "".join([d async for d in engine.stream(chat, sampling)])

        first = asyncio.create_task(collect())
        # A threading.Event set by the worker thread: poll it from the loop.
        while not engine.generating.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        queued = asyncio.create_task(collect())
        third = asyncio.create_task(collect())
        await asyncio.sleep(0.01)
        queued.cancel()  # still waiting for the model: it must leave the queue
        results = await asyncio.gather(first, third)
        return results[0], results[1], queued.cancelled()

    first, third, cancelled = asyncio.run(scenario())
    assert cancelled
    assert first.strip()
    assert third == first  # greedy: the same prompt, the same reply, served after the first


def test_a_background_generation_gives_way_to_a_reply() -> None:
    assert BUNDLED is not None
    engine = LocalModel(BUNDLED).engine()
    chat: list[ChatMessage] = [{"role": "user", "content": "Count from one to a hundred."}]
    title_sampling = Sampling(max_tokens=400, temperature=0.0, seed=1)
    reply_sampling = Sampling(max_tokens=8, temperature=0.0, seed=1)

    async def scenario() -> tuple[BaseException | None, int, str]:
        deltas = 0

        async def title() -> None:
            nonlocal deltas
            async for _ in engine.stream(chat, title_sampling, background=True):
                deltas += 1

        background = asyncio.create_task(title())
        while not engine.generating.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        reply = "".join([d async for d in engine.stream(chat, reply_sampling)])
        outcome = (await asyncio.gather(background, return_exceptions=True))[0]
        return outcome if isinstance(outcome, BaseException) else None, deltas, reply

    outcome, deltas, reply = asyncio.run(scenario())
    assert isinstance(outcome, Preempted)
    assert deltas < 400  # it stopped early, at the reply's arrival
    assert reply.strip()
