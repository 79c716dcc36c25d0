"""/metrics: Prometheus metrics (PARLEY_METRICS), for the operator's scraper only.

Not under /api: a scraper is not a user, and no user's session or API token reads it.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging

from fastapi import APIRouter, HTTPException, Request, Response

from ...settings import Settings
from ..deps import ServicesDep

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@router.get("/metrics")
async def metrics(request: Request, s: ServicesDep) -> Response:
    """Metrics off, or a caller who may not read them: 404, as if there were none (the
    metrics tell who uses which model, how much, how often). A bearer token that is not
    PARLEY_METRICS_TOKEN: 401, so a scraper's wrong token shows as such on its targets page.
    """
    found = s.runs.metrics if s.runs is not None else None
    if not s.settings.metrics or found is None:
        raise HTTPException(404, "Not Found")
    if not _may_read(request, s.settings):
        raise HTTPException(404, "Not Found")
    body, content_type = found.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type, headers={"cache-control": "no-store"})


def _may_read(request: Request, settings: Settings) -> bool:
    # Local mode listens on loopback only (and checks the Host): whoever reaches it may read.
    if settings.auth == "local":
        return True
    # The connection's own peer (web/security.py), never X-Forwarded-For: behind a trusted
    # proxy every client would otherwise read the metrics as the proxy's address, and
    # anyone else could claim an allowed address in the header.
    peer = request.scope.get("parley.peer")
    if isinstance(peer, str) and _allowed(peer, tuple(settings.metrics_allowed)):
        return True
    expected = settings.metrics_token
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not secret.strip():
        return False
    # Compared in constant time: how long a wrong guess takes says nothing of the token.
    if hmac.compare_digest(secret.strip().encode(), expected.encode()):
        return True
    raise HTTPException(401, "Wrong metrics token.", headers={"WWW-Authenticate": "Bearer"})


def _allowed(peer: str, entries: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    # An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
    mapped = getattr(address, "ipv4_mapped", None)
    return any(
        address in network or (mapped is not None and mapped in network)
        for network in _networks(entries)
    )


@functools.cache
def _networks(entries: tuple[str, ...]) -> tuple[_Network, ...]:
    networks: list[_Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            log.warning("PARLEY_METRICS_ALLOWED: %r is not an address or network, ignored", entry)
    return tuple(networks)
