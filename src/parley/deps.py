"""FastAPI dependencies: what a route may ask for, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from .accounts import Accounts
from .auth import authenticate
from .runs import Runs
from .settings import Settings
from .store import Store

LOCAL_OWNER = "local"


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _runs(request: Request) -> Runs:
    runs: Runs = request.app.state.runs
    return runs


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


async def current_owner(request: Request) -> str:
    """Whose data this request may see: every /api route but login depends on it.

    Local mode has a single implicit owner (and listens on loopback only); accounts mode
    needs a logged-in user, and every store query is scoped by that user's id.
    """
    settings: Settings = request.app.state.settings
    if settings.auth == "local":
        return LOCAL_OWNER
    user = await authenticate(request)
    if user is None:
        raise HTTPException(401, "Log in first.")
    return user.id


StoreDep = Annotated[Store, Depends(_store)]
RunsDep = Annotated[Runs, Depends(_runs)]
SettingsDep = Annotated[Settings, Depends(_settings)]
Owner = Annotated[str, Depends(current_owner)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
