"""/api/auth: log in, log out, and who am I. The only /api routes open without a user."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import AfterValidator, BaseModel, StringConstraints

from ...chat.text import check_text
from ..deps import AccountsDep, LoginLimitsDep, SettingsDep, UserDep
from ..identity import SESSION_COOKIE
from ..mount import root

router = APIRouter(prefix="/auth", tags=["auth"])


class Login(BaseModel):
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
        AfterValidator(check_text),
    ]
    password: Annotated[
        str, StringConstraints(min_length=1, max_length=1024), AfterValidator(check_text)
    ]


class UserOut(BaseModel):
    id: str
    name: str


class Me(BaseModel):
    mode: Literal["local", "accounts"]
    user: UserOut | None


class LoggedIn(BaseModel):
    user: UserOut


@router.get("/me")
async def me(settings: SettingsDep, user: UserDep) -> Me:
    if settings.auth == "local":
        return Me(mode="local", user=None)
    return Me(mode="accounts", user=UserOut(id=user.id, name=user.name) if user else None)


@router.post(
    "/login",
    responses={401: {"description": "Wrong name or password."}, 429: {"description": "Too many"}},
)
async def login(
    body: Login,
    request: Request,
    response: Response,
    settings: SettingsDep,
    accounts: AccountsDep,
    limits: LoginLimitsDep,
) -> LoggedIn:
    if settings.auth != "accounts":
        raise HTTPException(400, "Parley runs in local mode: there is nothing to log in to.")
    address = request.client.host if request.client else "unknown"
    # Counted before the password is checked (TooManyAttempts is a 429): see accounts.ratelimit.
    attempt = await limits.reserve(body.name, address)
    user = await accounts.check_password(body.name, body.password)
    if user is None:
        raise HTTPException(401, "Wrong name or password.")
    await limits.succeeded(body.name, attempt)
    # Session fixation: whatever session id the browser came with is ended, and the login
    # always issues a new one.
    if old := request.cookies.get(SESSION_COOKIE):
        await accounts.end_session(old)
    session_id = await accounts.start_session(user, settings.session_days)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=settings.session_days * 86400,
        httponly=True,  # no script can read it, XSS or not
        samesite="strict",  # never sent on requests that another site starts
        secure=request.url.scheme == "https",
        # Parley's own paths only: mounted in another app, the host's other pages never see it.
        path=f"{root(request.scope)}/",
    )
    return LoggedIn(user=UserOut(id=user.id, name=user.name))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, accounts: AccountsDep) -> Response:
    if session_id := request.cookies.get(SESSION_COOKIE):
        await accounts.end_session(session_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        SESSION_COOKIE, path=f"{root(request.scope)}/", httponly=True, samesite="strict"
    )
    return response
