"""Every error answers JSON `{"detail": "a sentence"}` that the UI can show as it is."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..accounts.ratelimit import TooManyAttempts
from ..chat.approvals import InvalidDecision
from ..chat.store import (
    BadCursor,
    ConversationBusy,
    MessageNotFound,
    NotAwaiting,
    TooManyReplies,
    WrongRole,
)
from ..chat.text import clean_json
from ..chat.usage import OverBudget
from ..db.clock import now
from ..runs.service import RunNotFound

log = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(ConversationBusy, _busy)
    app.add_exception_handler(RunNotFound, _run_not_found)
    app.add_exception_handler(BadCursor, _bad_cursor)
    app.add_exception_handler(MessageNotFound, _message_not_found)
    app.add_exception_handler(WrongRole, _wrong_role)
    app.add_exception_handler(NotAwaiting, _not_awaiting)
    app.add_exception_handler(InvalidDecision, _invalid_decision)
    app.add_exception_handler(TooManyReplies, _too_many_runs)
    app.add_exception_handler(OverBudget, _over_budget)
    app.add_exception_handler(TooManyAttempts, _too_many_attempts)
    app.add_exception_handler(Exception, _unexpected)


def _describe(error: dict[str, object]) -> str:
    location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]  # type: ignore[attr-defined]
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{'.'.join(location)}: {message}" if location else message


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    detail = "; ".join(_describe(e) for e in errors) or "invalid request"
    # Cleaned: the input named in a location may not even be encodable (a lone surrogate).
    body = {
        "detail": detail,
        "errors": [{"loc": e.get("loc"), "msg": e.get("msg")} for e in errors],
    }
    return JSONResponse(clean_json(body), status_code=422)


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _busy(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "A reply is already being generated in this conversation. Stop it first."},
        status_code=409,
    )


async def _not_awaiting(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _invalid_decision(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(clean_json({"detail": str(exc)}), status_code=422)


async def _run_not_found(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "No such reply is being generated."}, status_code=404)


async def _too_many_runs(request: Request, _exc: Exception) -> JSONResponse:
    limit = request.app.state.services.settings.max_runs_per_user
    return JSONResponse(
        {"detail": f"You already have {limit} replies being generated. Wait or stop one."},
        status_code=429,
        headers={"Retry-After": "5"},
    )


async def _over_budget(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OverBudget)
    seconds = max(1, int((exc.resets_at - now()).total_seconds() + 0.999))
    hours, minutes = divmod((seconds + 59) // 60, 60)
    return JSONResponse(
        {
            "detail": f"You have used today's budget of ${exc.budget}. It resets at 00:00 UTC "
            f"(in {hours} h {minutes:02d} min)."
        },
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


async def _too_many_attempts(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyAttempts)
    seconds = max(1, int(exc.retry_after + 0.999))
    return JSONResponse(
        {"detail": f"Too many failed logins. Try again in {seconds} seconds."},
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


async def _bad_cursor(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "cursor: not a cursor this server gave out"}, status_code=422)


async def _message_not_found(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "No such message in this conversation."}, status_code=404)


async def _wrong_role(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "Something went wrong on the server."}, status_code=500)
