"""What a reply used and cost: the provider's token counts, priced by genai-prices through
Pydantic AI, on the reply and in its `done` event; an unknown price is null, never 0."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import genai_prices
import pytest

from ..support.client import new_conversation, saved_messages, send
from ..support.fake_openai import FakeOpenAI, reply_to
from ..support.processes import Server


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()


def _serve(serve: Callable[..., Server], fake: FakeOpenAI, model: str) -> Server:
    return serve(
        env={
            "PARLEY_MODEL": f"openai-chat:{model}",
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "test-key",
            "PARLEY_GENERATE_TITLES": "false",
        }
    )


def _expected(input_tokens: int, output_tokens: int, model: str) -> Decimal:
    usage = genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    price: Decimal = genai_prices.calc_price(usage, model, provider_id="openai").total_price
    return price


@pytest.mark.slow
def test_a_priced_model_gives_each_reply_its_exact_cost(
    serve: Callable[..., Server], fake_openai: FakeOpenAI
) -> None:
    with _serve(serve, fake_openai, "gpt-4o").client() as client:
        cid = new_conversation(client)
        prompt = "what does a pangolin eat"
        frames = send(client, cid, prompt)
        done: dict[str, Any] = frames[-1].data
        assert (frames[-1].event, done["status"]) == ("done", "complete")
        # The fake provider counts words: the prompt's in, the reply's out.
        usage = done["usage"]
        assert (usage["input_tokens"], usage["output_tokens"]) == (5, len(reply_to(prompt).split()))
        expected = _expected(usage["input_tokens"], usage["output_tokens"], "gpt-4o")
        assert expected > 0
        assert Decimal(str(usage["cost"])) == expected
        # The same on the stored reply, as the list gives it after a reload.
        _, reply = saved_messages(client, cid)
        assert reply["usage"] == usage


@pytest.mark.slow
def test_an_unknown_model_has_no_cost_rather_than_zero(
    serve: Callable[..., Server], fake_openai: FakeOpenAI
) -> None:
    with _serve(serve, fake_openai, "parley-house-model-7").client() as client:
        cid = new_conversation(client)
        frames = send(client, cid, "hello there")
        usage = frames[-1].data["usage"]
        assert usage["input_tokens"] == 2 and usage["output_tokens"] > 0
        assert usage["cost"] is None
        _, reply = saved_messages(client, cid)
        assert reply["usage"]["cost"] is None
