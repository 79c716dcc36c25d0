"""A failed reply says what went wrong in a sentence, never a Python dump of the provider's body:
Pydantic AI's error category, the provider's own message, the HTTP status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelRequestTimeout,
    ModelTimeoutError,
)

from parley.runs.errors import describe_error

from ..support.client import new_conversation, send
from ..support.fake_openai import FakeOpenAI, provider_env
from ..support.processes import Server


def _http(category: Any, status: int, body: object) -> ModelHTTPError:
    return ModelHTTPError.for_category(category, status_code=status, model_name="m", body=body)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            _http(ModelRateLimitError, 429, {"error": {"message": "Slow down.", "type": "x"}}),
            "The model provider is limiting requests; try again in a moment (HTTP 429): Slow down.",
        ),
        (
            # Anthropic's shape
            _http(
                ModelRequestRejectedError,
                400,
                {"type": "error", "error": {"type": "invalid_request_error", "message": "Bad."}},
            ),
            "The model provider answered with an error (HTTP 400): Bad.",
        ),
        (_http(None, 502, {"detail": "Gateway\n  down"}), "(HTTP 502): Gateway down"),
        (_http(None, 500, "plain text"), "(HTTP 500): plain text"),
        (_http(None, 500, None), "The model provider answered with an error (HTTP 500)."),
        (
            ModelTimeoutError(model_name="m", message="read timed out"),
            "The model provider took too long to answer: read timed out",
        ),
        (
            ModelRequestTimeout("m", 30.0),
            "The model provider took too long to answer: Request to model 'm' timed out after",
        ),
        (ModelAPIError(model_name="m", message="boom"), "answered with an error: boom"),
        (ValueError("bad tool argument"), "ValueError: bad tool argument"),
    ],
)
def test_errors_are_described_in_a_sentence(error: BaseException, expected: str) -> None:
    text = describe_error(error)
    assert expected in text
    assert "status_code:" not in text
    assert "{" not in text


def test_a_long_provider_message_is_shortened() -> None:
    text = describe_error(_http(None, 400, {"error": {"message": "x" * 5000}}))
    assert len(text) < 400
    assert text.endswith("…")


@pytest.mark.slow
def test_a_provider_error_reaches_the_user_as_a_sentence(
    serve: Callable[..., Server], fake_openai: FakeOpenAI
) -> None:
    env = {**provider_env(fake_openai, "openai-chat:gpt-4o"), "PARLEY_GENERATE_TITLES": "false"}
    fake_openai.failure = (400, "This model's maximum context length is 8192 tokens.")
    with serve(env=env).client() as client:
        cid = new_conversation(client)
        done = send(client, cid, "hello")[-1]
        assert (done.event, done.data["status"]) == ("done", "error")
        # Pydantic AI recognises OpenAI's wording as a context window exceeded.
        assert done.data["error"] == (
            "The conversation is too long for the model (HTTP 400): "
            "This model's maximum context length is 8192 tokens."
        )
