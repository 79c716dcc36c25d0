"""/metrics: what it counts after a reply, its labels, and who may read it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from parley.app import create_app
from parley.settings import Settings

from ..support.client import new_conversation, send
from ..support.models import Echo, Scripted

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
MESSAGES_ROUTE = "/api/conversations/{conversation_id}/messages"


def scrape(client: TestClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape_until(
    client: TestClient, ready: Callable[[Samples], bool], timeout: float = 10.0
) -> Samples:
    """The metrics once `ready` holds: a reply's end is counted just after its `done` frame."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(client)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.02)


def test_a_reply_moves_the_counters(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent(), metrics=True)
    before = scrape(client)
    assert value(before, "parley_replies_running") == 0
    assert not [key for key in before if key[0] == "parley_replies_total"]

    cid = new_conversation(client)
    frames = send(client, cid, "hello")
    model = frames[-1].data["model"]
    assert frames[-1].data["status"] == "complete"

    after = scrape_until(
        client, lambda s: value(s, "parley_replies_total", model=model, status="complete") == 1
    )
    assert value(after, "parley_replies_total", model=model, status="complete") == 1
    assert value(after, "parley_replies_running") == 0
    assert value(after, "parley_reply_first_token_seconds_count", model=model) == 1
    usage = frames[-1].data["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert value(after, "parley_tokens_total", model=model, kind="input") == usage["input_tokens"]
    assert value(after, "parley_tokens_total", model=model, kind="output") == usage["output_tokens"]
    sent = {"method": "POST", "route": MESSAGES_ROUTE, "status": "200"}
    assert value(after, "parley_http_requests_total", **sent) == 1
    assert (
        value(
            after, "parley_http_request_duration_seconds_count", method="POST", route=MESSAGES_ROUTE
        )
        == 1
    )
    # The database pool, read at the scrape.
    assert value(after, "parley_db_pool_checked_out") is not None

    # A second reply counts on.
    send(client, cid, "again")
    again = scrape_until(
        client, lambda s: value(s, "parley_replies_total", model=model, status="complete") == 2
    )
    assert value(again, "parley_replies_total", model=model, status="complete") == 2
    assert value(again, "parley_http_requests_total", **sent) == 2


def test_a_failed_reply_is_counted_as_an_error(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Scripted(["one ", "two"], fail_after=1).agent(), metrics=True)
    frames = send(client, new_conversation(client), "hello")
    model = frames[-1].data["model"]
    samples = scrape_until(
        client, lambda s: value(s, "parley_replies_total", model=model, status="error") == 1
    )
    assert value(samples, "parley_replies_total", model=model, status="error") == 1
    assert value(samples, "parley_replies_running") == 0


def test_labels_are_route_templates_and_known_methods(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(Echo().agent(), metrics=True)
    cid = new_conversation(client)
    assert client.get(f"/api/conversations/{cid}").status_code == 200
    assert client.get("/no/such/page/12345").status_code == 404
    assert client.request("BREW", "/api/conversations").status_code == 405
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    samples = scrape(client)

    labels = {label for _name, labelset in samples for label in labelset}
    assert not [pair for pair in labels if cid in pair[1] or "12345" in pair[1]]
    ok = {"method": "GET", "route": "/api/conversations/{conversation_id}", "status": "200"}
    assert value(samples, "parley_http_requests_total", **ok) == 1
    missing = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(samples, "parley_http_requests_total", **missing) == 1
    brewed = {"method": "other", "route": "/api/conversations", "status": "405"}
    assert value(samples, "parley_http_requests_total", **brewed) == 1
    mounted = {"method": "GET", "route": "/docs/assets/{path}", "status": "200"}
    assert value(samples, "parley_http_requests_total", **mounted) == 1


def test_metrics_are_off_by_default(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    assert client.get("/metrics").status_code == 404


def test_each_app_counts_its_own(make_client: Callable[..., TestClient]) -> None:
    first = make_client(Echo().agent(), metrics=True)
    second = make_client(Echo().agent(), metrics=True)
    new_conversation(first)
    route = {"method": "POST", "route": "/api/conversations", "status": "201"}
    assert value(scrape(first), "parley_http_requests_total", **route) == 1
    assert value(scrape(second), "parley_http_requests_total", **route) is None


@contextmanager
def _client(settings: Settings, peer: str) -> Iterator[TestClient]:
    app = create_app(settings, agent=Echo().agent())
    with TestClient(app, base_url="http://localhost", client=(peer, 40000)) as client:
        yield client


def test_who_may_read_them_in_accounts_mode(settings: Settings) -> None:
    operator = settings.model_copy(
        update={
            "auth": "accounts",
            "metrics": True,
            "metrics_allowed": ["10.0.0.0/8", "not an address"],
            "metrics_token": "scraper-secret",
            "trusted_proxies": ["192.0.2.1"],
        }
    )
    with _client(operator, "10.1.2.3") as inside:
        scrape(inside)
    with _client(operator, "::ffff:10.1.2.3") as mapped:
        scrape(mapped)
    with _client(operator, "198.51.100.7") as outside:
        # Neither an allowed address nor the token: as if there were no metrics.
        assert outside.get("/metrics").status_code == 404
        assert outside.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 404
        wrong = outside.get("/metrics", headers={"Authorization": "Bearer guessed"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"] == "Bearer"
        scrape(outside, Authorization="Bearer scraper-secret")
    # Behind a trusted proxy the client's address is the forwarded one, but /metrics goes by
    # the connection's own peer: a client cannot borrow an allowed address through the proxy.
    with _client(operator, "192.0.2.1") as proxy:
        assert proxy.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 404


def test_without_a_token_only_the_allowed_addresses_read_them(settings: Settings) -> None:
    operator = settings.model_copy(update={"auth": "accounts", "metrics": True})
    with _client(operator, "127.0.0.1") as loopback:
        scrape(loopback)
    with _client(operator, "198.51.100.7") as outside:
        # No token is configured: a bearer token is nobody's way in.
        assert outside.get("/metrics", headers={"Authorization": "Bearer x"}).status_code == 404


def test_requests_carry_an_id(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 16 and made != client.get("/healthz").headers["x-request-id"]
    given = "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["x-request-id"] == given
    odd = client.get("/healthz", headers={"X-Request-ID": "a b;c<script>"})
    assert odd.headers["x-request-id"] != "a b;c<script>"
    assert len(odd.headers["x-request-id"]) == 16
