"""What a reply used and cost: the provider's token counts, priced by genai-prices through
Pydantic AI, on the reply and in its `done` event; an unknown price is null, never 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import genai_prices
import pytest
from fastapi.testclient import TestClient
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..support.cli import migrate, run_cli
from ..support.client import new_conversation, saved_messages, send
from ..support.fake_openai import FakeOpenAI, provider_env, reply_to
from ..support.models import Echo, prompts_of
from ..support.processes import Server, side_by_side


def _serve(serve: Callable[..., Server], fake: FakeOpenAI, model: str) -> Server:
    return serve(
        env={**provider_env(fake, f"openai-chat:{model}"), "PARLEY_GENERATE_TITLES": "false"}
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


# -- The ledger: totals, budgets -------------------------------------------------------------


class PricedModel(FunctionModel):
    """A FunctionModel that Pydantic AI prices as gpt-4o (its usage is estimated from the
    text): costs known in advance, without a provider."""

    @property
    def system(self) -> str:
        return "openai"


def _priced(name: str = "gpt-4o") -> PricedModel:
    async def stream(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        yield f"An answer to {prompts_of(messages)[-1]}"

    return PricedModel(stream_function=stream, model_name=name)


def _totals(client: TestClient, path: str, **params: str) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_usage_adds_up_per_conversation_model_and_day_and_outlives_a_delete(
    make_client: Callable[..., TestClient],
) -> None:
    unpriced = Echo().agent().model
    assert isinstance(unpriced, FunctionModel)
    client = make_client(Agent(_priced()), models=[("gpt-4o", _priced()), ("house", unpriced)])
    first, second = new_conversation(client), new_conversation(client)
    costs: list[Decimal] = []
    for prompt in ("one", "two", "three"):
        usage = send(client, first, prompt)[-1].data["usage"]
        costs.append(Decimal(str(usage["cost"])))
    client.patch(f"/api/conversations/{second}", json={"model": "house"})
    assert send(client, second, "four")[-1].data["usage"]["cost"] is None

    mine = _totals(client, f"/api/conversations/{first}/usage")
    assert (mine["replies"], mine["unpriced"]) == (3, 0)
    assert Decimal(str(mine["cost"])) == sum(costs)
    theirs = _totals(client, f"/api/conversations/{second}/usage")
    assert (theirs["replies"], theirs["unpriced"], theirs["cost"]) == (1, 1, None)

    by_model = {t["key"]: t for t in _totals(client, "/api/usage", group_by="model")}
    assert set(by_model) == {"gpt-4o", "house"}
    assert by_model["gpt-4o"]["input_tokens"] == mine["input_tokens"]
    day = datetime.now(UTC).date()
    (today,) = _totals(client, "/api/usage", group_by="day")
    assert (today["key"], today["replies"]) == (day.isoformat(), 4)
    assert _totals(client, "/api/usage", **{"from": str(day + timedelta(days=1))}) == [
        {
            **today,
            "key": None,
            "replies": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost": None,
            "unpriced": 0,
        }
    ]
    bad = client.get("/api/usage", params={"from": "2026-02-02", "to": "2026-02-01"})
    assert bad.status_code == 422 and "first day" in bad.json()["detail"]

    # What was spent stays spent.
    before = _totals(client, "/api/usage")
    assert client.delete(f"/api/conversations/{first}").status_code == 204
    assert _totals(client, "/api/usage") == before
    assert client.get(f"/api/conversations/{first}/usage").status_code == 404


def test_the_daily_budget_refuses_the_next_reply_with_when_it_resets(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Agent(_priced()), daily_budget=Decimal("0.000001"))
    cid = new_conversation(client)
    assert send(client, cid, "spend it")[-1].data["status"] == "complete"
    refused = client.post(f"/api/conversations/{cid}/messages", json={"prompt": "more"})
    assert refused.status_code == 429
    assert "today's budget of $0.000001" in refused.json()["detail"]
    assert "resets at 00:00 UTC" in refused.json()["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= 86_400
    # Nothing was written for the refused prompt.
    assert len(client.get(f"/api/conversations/{cid}/messages").json()["items"]) == 2


def test_a_reply_over_the_cost_limit_stops_with_an_error(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Agent(_priced()), max_cost_per_reply=Decimal("0.0000000001"))
    cid = new_conversation(client)
    done = send(client, cid, "an expensive question")[-1].data
    assert done["status"] == "error"
    assert "cost_limit" in done["error"]


def test_parley_usage_shows_every_users_totals(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(Agent(_priced()))
    send(client, new_conversation(client), "hello")
    result = run_cli("usage", "--database-url", database_url)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split()[:3] == ["user", "replies", "input"]
    assert row.split()[:2] == ["local", "1"]
    by_model = run_cli("usage", "--database-url", database_url, "--group-by", "model")
    assert by_model.stdout.splitlines()[1].split()[0] == "openai:gpt-4o"


@pytest.mark.slow
def test_the_daily_budget_holds_across_two_processes(
    serve: Callable[..., Server], database_url: str, fake_openai: FakeOpenAI
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process")
    migrate(database_url)
    env = {
        **provider_env(fake_openai, "openai-chat:gpt-4o"),
        "PARLEY_GENERATE_TITLES": "false",
        "PARLEY_DAILY_BUDGET": "0.000001",
    }
    a, b = side_by_side(serve, 2, env=env)
    with a.client() as on_a, b.client() as on_b:
        cid = new_conversation(on_a)
        assert send(on_a, cid, "spend it on A")[-1].data["status"] == "complete"
        other = new_conversation(on_b)
        refused = on_b.post(f"/api/conversations/{other}/messages", json={"prompt": "on B"})
        assert refused.status_code == 429, refused.text
        assert "budget" in refused.json()["detail"]


@pytest.mark.slow
def test_models_listed_by_flag_come_with_what_genai_prices_knows(
    serve: Callable[..., Server], fake_openai: FakeOpenAI
) -> None:
    known, unknown = "openai-chat:gpt-4o", "openai-chat:parley-house-model-7"
    # The flags' list is what is offered; PARLEY_MODEL is then not used.
    env = {**provider_env(fake_openai, known), "PARLEY_GENERATE_TITLES": "false"}
    with serve("--model", known, "--model", unknown, env=env).client() as client:
        listed = client.get("/api/models").json()
        assert [m["id"] for m in listed] == [known, unknown]
        per_million = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=1_000_000), "gpt-4o", provider_id="openai"
        ).total_price
        assert Decimal(str(listed[0]["input_price"])) == per_million
        assert listed[0]["context_window"] and listed[0]["output_price"] > listed[0]["input_price"]
        assert (listed[1]["input_price"], listed[1]["output_price"]) == (None, None)
        cid = new_conversation(client)
        assert client.patch(f"/api/conversations/{cid}", json={"model": unknown}).status_code == 200
        done = send(client, cid, "hello there")[-1].data
        assert (done["model"], done["usage"]["cost"]) == (unknown, None)
        assert fake_openai.replies[-1].body["model"] == "parley-house-model-7"
