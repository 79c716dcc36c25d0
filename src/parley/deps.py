"""FastAPI dependencies: what a route may ask for, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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


def current_owner() -> str:
    # Every /api route depends on this: the one place that decides whose data a request sees.
    # Local mode has a single owner; accounts mode will resolve the session's user here.
    return LOCAL_OWNER


StoreDep = Annotated[Store, Depends(_store)]
RunsDep = Annotated[Runs, Depends(_runs)]
SettingsDep = Annotated[Settings, Depends(_settings)]
Owner = Annotated[str, Depends(current_owner)]
