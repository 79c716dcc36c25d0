"""What a failed reply says: one plain sentence a user can act on, never a Python dump.

A provider's error reaches Parley as a Pydantic AI `ModelAPIError` whose `str()` is
`status_code: 400, model_name: x, body: {…}`: written for logs. The user sees what kind of
failure it was (Pydantic AI's own categories), the provider's own message when it sent one, and
the HTTP status.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelNotFoundError,
    ModelOverloadedError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestTimeout,
    ModelServerError,
    ModelTimeoutError,
    ModelUnavailableError,
)

from ..chat.text import clean_text

__all__ = ["describe_error"]

# The provider's own message is shown up to this length.
_MAX_MESSAGE = 300

# Most specific first: a timeout is also a connection error, an overload also unavailability.
_CATEGORIES: tuple[tuple[type[ModelAPIError], str], ...] = (
    (ModelContextWindowExceededError, "The conversation is too long for the model"),
    (ModelAuthenticationError, "The model provider refused Parley's API key"),
    (ModelNotFoundError, "The model provider does not know this model"),
    (ModelQuotaExceededError, "The model provider's quota for this account is used up"),
    (ModelRateLimitError, "The model provider is limiting requests; try again in a moment"),
    (ModelOverloadedError, "The model provider is overloaded; try again in a moment"),
    (ModelUnavailableError, "The model provider is unavailable; try again in a moment"),
    (ModelTimeoutError, "The model provider took too long to answer"),
    (ModelRequestTimeout, "The model provider took too long to answer"),
    (ModelConnectionError, "Parley could not reach the model provider"),
    (ModelServerError, "The model provider had an internal error"),
)


def _provider_message(body: object) -> str | None:
    """The human part of an error body: OpenAI's `{"error": {"message"}}`, Anthropic's
    `{"type": "error", "error": {"message"}}`, or a plain `message`/`detail`, or text."""
    if isinstance(body, str):
        return body.strip() or None
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    for source in (error, body):
        if isinstance(source, Mapping):
            for key in ("message", "detail"):
                value = source.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return error.strip() if isinstance(error, str) and error.strip() else None


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def describe_error(exc: BaseException) -> str:
    """One or two sentences for the reply's error, cleaned of what cannot be stored."""
    if isinstance(exc, ModelAPIError):
        summary = next(
            (text for kind, text in _CATEGORIES if isinstance(exc, kind)),
            "The model provider answered with an error",
        )
        if isinstance(exc, ModelHTTPError):
            summary += f" (HTTP {exc.status_code})"
        said = _provider_message(exc.body)
        if said is None and not isinstance(exc, ModelHTTPError) and exc.message:
            said = exc.message
        return clean_text(f"{summary}: {_shorten(said)}" if said else f"{summary}.")
    text = str(exc) or type(exc).__name__
    return clean_text(f"{type(exc).__name__}: {text}")
