"""/healthz and /readyz, for load balancers and orchestrators: no login, no data.

`/healthz` answers while the process serves requests (a liveness probe: restart it if not).
`/readyz` says whether it can do its work now (a readiness probe: send it traffic or not):
the database answers, its schema is at the migrations' head, and every MCP server the
operator configured (and did not disable) is up. Each check is named in the answer as "ok" or
what is wrong, never with an error's text (it could name hosts or paths): that goes to the log.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ...agents.mcp import McpServers
from ...db.migrate import alembic_config
from ..deps import ServicesDep

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# Probes time out after a second or a few (Kubernetes: 1 s by default); a check that takes
# longer is as good as failed.
_CHECK_SECONDS = 3.0


# HEAD too: some load balancers probe with it.
@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.api_route("/readyz", methods=["GET", "HEAD"])
async def readyz(s: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    if s.store is None:
        checks["database"] = "starting"
    else:
        checks |= await _database(s.store.engine)
    checks["mcp"] = await _mcp(s.tools)
    ready = all(value in ("ok", "none") for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers={"cache-control": "no-store"},
    )


async def _database(engine: AsyncEngine) -> dict[str, str]:
    """Reachable (one query on a pooled connection) and at the migrations' head."""
    try:
        async with asyncio.timeout(_CHECK_SECONDS), engine.connect() as connection:
            current = await connection.run_sync(_current_heads)
    except TimeoutError:
        log.warning("readiness: the database did not answer within %g s", _CHECK_SECONDS)
        return {"database": "timeout", "migrations": "unknown"}
    except Exception as exc:
        log.warning("readiness: the database is unreachable: %s", exc)
        return {"database": "unreachable", "migrations": "unknown"}
    if set(current) != set(_heads()):
        # Another process (a newer version) migrated it further, or nobody migrated it.
        log.warning("readiness: the database is at %s, the migrations at %s", current, _heads())
        return {"database": "ok", "migrations": "not at head"}
    return {"database": "ok", "migrations": "ok"}


def _current_heads(connection: Connection) -> tuple[str, ...]:
    # Reads alembic_version: a query on the database itself, not only the connection.
    return tuple(MigrationContext.configure(connection).get_current_heads())


@functools.cache
def _heads() -> tuple[str, ...]:
    # The migrations shipped with this version: read from their files once per process.
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


async def _mcp(tools: McpServers | None) -> str:
    """Every enabled server running and answering: "ok" ("none" without any). A server that
    could not start fails readiness: its tools are missing from every reply, and a rolling
    deploy with a broken server config should stop at its first instance."""
    if tools is None:
        return "none"
    try:
        # Cached tool lists: the servers are asked only when they said their tools changed.
        async with asyncio.timeout(_CHECK_SECONDS):
            servers = await tools.describe()
    except TimeoutError:
        return "timeout"
    enabled = [server for server in servers if server.status != "disabled"]
    if not enabled:
        return "none"
    failed = [server for server in enabled if server.status == "error"]
    if failed:
        log.warning(
            "readiness: MCP servers in error: %s", ", ".join(server.name for server in failed)
        )
        return f"{len(failed)} of {len(enabled)} servers failed"
    return "ok"
