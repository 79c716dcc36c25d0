"""Who is asking: the one place a request's user is decided (see deps.current_owner).

Accounts mode accepts, in this order: a user name header from a configured trusted proxy
(only when the connection comes from one of its addresses), an API token in
`Authorization: Bearer`, or the session cookie set at login.
"""

from __future__ import annotations

from fastapi import Request

from ..accounts.store import Accounts, User
from ..settings import Settings

SESSION_COOKIE = "parley_session"


async def authenticate(request: Request, settings: Settings, accounts: Accounts) -> User | None:
    if "parley_user" in request.scope:
        cached: User | None = request.scope["parley_user"]
        return cached
    user = await _authenticate(request, settings, accounts)
    request.scope["parley_user"] = user
    return user


async def _authenticate(request: Request, settings: Settings, accounts: Accounts) -> User | None:
    header = settings.trusted_user_header
    # The connection's own peer (see guards.RequestGuard), not an address a proxy forwarded.
    peer = request.scope.get("parley.peer")
    if header and peer in settings.trusted_proxies:
        name = request.headers.get(header, "").strip()
        if name and len(name) <= 64:
            # The proxy has authenticated this person: known names log in, new ones are added.
            return await accounts.user_named(name) or await accounts.add_user(name, None)
    authorization = request.headers.get("authorization", "")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return await accounts.token_user(secret.strip())
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        return await accounts.session_user(session_id)
    return None
