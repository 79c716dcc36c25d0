"""FastAPI dependencies: what a route may ask for, as `Annotated` aliases.

Routes get Parley's services through one typed object, `Services`, built by `create_app` and
filled in by its lifespan; nothing else reads `app.state`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from ..accounts.ratelimit import LoginLimits
from ..accounts.store import Accounts, User
from ..agents.catalog import Catalog
from ..agents.mcp import McpServers
from ..chat.store import Store
from ..runs.service import Runs
from ..settings import Settings
from .assets import Assets
from .identity import authenticate

LOCAL_OWNER = "local"


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asks for a reply: what `create_app(deps=...)`'s factory is given, to build the
    agent's `deps` (its tools read them as `ctx.deps`)."""

    #: The owner of the conversation: the user's id in accounts mode, "local" in local mode.
    user_id: str
    #: The user's name in accounts mode; None in local mode (there is no account).
    user_name: str | None
    #: The request that started the reply. The reply outlives it (it goes on when the browser
    #: leaves), so read what you need from it in the factory, not later in a tool.
    request: Request


#: Builds an agent's `deps` for a reply; may be `async`.
DepsFactory = Callable[[Asker], Any]


@dataclass
class Services:
    """Everything a request may use; the database-backed ones exist once the app has started."""

    settings: Settings
    model: str
    model_notice: str | None
    catalog: Catalog
    assets: Assets
    store: Store | None = None
    runs: Runs | None = None
    accounts: Accounts | None = None
    login_limits: LoginLimits | None = None
    # The operator's MCP servers (none configured: an empty set).
    tools: McpServers | None = None
    # create_app's `deps`: the agent's deps for each reply, from who asks.
    deps_factory: DepsFactory | None = None


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


def _store(s: ServicesDep) -> Store:
    assert s.store is not None, "the app has not started"
    return s.store


def _runs(s: ServicesDep) -> Runs:
    assert s.runs is not None, "the app has not started"
    return s.runs


def _settings(s: ServicesDep) -> Settings:
    return s.settings


def _assets(s: ServicesDep) -> Assets:
    return s.assets


def _accounts(s: ServicesDep) -> Accounts:
    assert s.accounts is not None, "the app has not started"
    return s.accounts


def _login_limits(s: ServicesDep) -> LoginLimits:
    assert s.login_limits is not None, "the app has not started"
    return s.login_limits


async def current_user(request: Request, s: ServicesDep) -> User | None:
    """The logged-in user of accounts mode (None if nobody is), decided once per request."""
    if s.settings.auth == "local":
        return None
    assert s.accounts is not None, "the app has not started"
    return await authenticate(request, s.settings, s.accounts)


async def current_owner(s: ServicesDep, user: Annotated[User | None, Depends(current_user)]) -> str:
    """Whose data this request may see: every /api route but login depends on it.

    Local mode has a single implicit owner (and listens on loopback only); accounts mode
    needs a logged-in user, and every store query is scoped by that user's id.
    """
    if s.settings.auth == "local":
        return LOCAL_OWNER
    if user is None:
        raise HTTPException(401, "Log in first.")
    return user.id


async def agent_deps(
    request: Request,
    s: ServicesDep,
    owner: Annotated[str, Depends(current_owner)],
    user: Annotated[User | None, Depends(current_user)],
) -> Any:
    """The `deps` of the reply this request starts: None without a factory."""
    if s.deps_factory is None:
        return None
    made = s.deps_factory(Asker(owner, user.name if user else None, request))
    return await made if inspect.isawaitable(made) else made


def _catalog(s: ServicesDep) -> Catalog:
    return s.catalog


def _tools(s: ServicesDep) -> McpServers:
    return s.tools if s.tools is not None else McpServers()


StoreDep = Annotated[Store, Depends(_store)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
RunsDep = Annotated[Runs, Depends(_runs)]
SettingsDep = Annotated[Settings, Depends(_settings)]
AssetsDep = Annotated[Assets, Depends(_assets)]
Owner = Annotated[str, Depends(current_owner)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
LoginLimitsDep = Annotated[LoginLimits, Depends(_login_limits)]
UserDep = Annotated[User | None, Depends(current_user)]
ToolsDep = Annotated[McpServers, Depends(_tools)]
AgentDeps = Annotated[Any, Depends(agent_deps)]
