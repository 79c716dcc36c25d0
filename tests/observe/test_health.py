"""/healthz and /readyz: alive, ready, and not ready when the database or an MCP server is not."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from parley.chat.store import Store
from parley.settings import Settings

from ..support.databases import postgres_server, run_in_thread
from ..support.models import Echo


def _store(client: TestClient) -> Store:
    store: Store = client.app.state.services.store  # type: ignore[attr-defined]
    return store


def _drop(url: str) -> None:
    """Drop the PostgreSQL database of `url`, ending its connections."""
    name = make_url(url).database
    server = make_url(postgres_server()).set(drivername="postgresql")

    async def drop() -> None:
        connection = await asyncpg.connect(server.render_as_string(hide_password=False))
        try:
            await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    run_in_thread(drop())


def test_alive_and_ready(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "mcp": "none"},
    }
    assert ready.headers["cache-control"] == "no-store"
    # Load balancers that probe with HEAD.
    assert client.head("/healthz").status_code == 200
    assert client.head("/readyz").status_code == 200


def test_probes_answer_a_load_balancer_that_addresses_the_instance_by_ip(
    make_client: Callable[..., TestClient],
) -> None:
    """A load balancer sends the instance's address as Host, which no host check lists: the
    probes answer it, and nothing else does (DNS rebinding stays refused)."""
    for client in (
        make_client(Echo().agent()),
        make_client(Echo().agent(), auth="accounts", allowed_hosts=["chat.example.com"]),
    ):
        by_ip = {"Host": "10.0.0.5:8000"}
        assert client.get("/healthz", headers=by_ip).status_code == 200
        assert client.get("/readyz", headers=by_ip).status_code == 200
        assert client.get("/api/info", headers=by_ip).status_code == 421
        assert client.get("/metrics", headers=by_ip).status_code == 421


def test_not_ready_when_the_database_is_down(
    make_client: Callable[..., TestClient], settings: Settings
) -> None:
    client = make_client(Echo().agent())
    assert client.get("/readyz").status_code == 200
    store = _store(client)
    sqlite = settings.sqlite_path()
    if sqlite is not None:
        # The file becomes something SQLite cannot open (chmod does not stop root), and the
        # connections the pool held are closed, as a server's would be when it goes down.
        client.portal.call(store.engine.dispose)  # type: ignore[union-attr]
        for path in sqlite.parent.glob(sqlite.name + "*"):
            path.unlink()
        sqlite.mkdir()
    else:
        # The database goes away under the app: its connections are ended with it.
        _drop(settings.database_url)

    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json() == {
        "status": "unavailable",
        "checks": {"database": "unreachable", "migrations": "unknown", "mcp": "none"},
    }
    # Alive all the same: restarting the process would not bring the database back.
    assert client.get("/healthz").status_code == 200
    if sqlite is not None:
        shutil.rmtree(sqlite)


def test_not_ready_when_the_schema_is_not_at_head(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Echo().agent())
    store = _store(client)

    async def behind() -> None:
        async with store.engine.begin() as connection:
            await connection.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))

    client.portal.call(behind)  # type: ignore[union-attr]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "migrations": "not at head",
        "mcp": "none",
    }


def test_not_ready_while_an_mcp_server_is_down(tmp_path: Path) -> None:
    from parley.app import create_app

    config = tmp_path / "mcp.json"
    broken = {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"]}
    config.write_text(
        json.dumps({"mcpServers": {"broken": broken, "off": {**broken, "disabled": True}}})
    )
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}", mcp_config=config
    )
    with TestClient(create_app(settings, agent=Echo().agent()), base_url="http://localhost") as c:
        response = c.get("/readyz")
        assert response.status_code == 503
        # How many, never which: server names are the operator's.
        assert response.json()["checks"]["mcp"] == "1 of 1 servers failed"
        assert "broken" not in response.text

    config.write_text(json.dumps({"mcpServers": {"off": {**broken, "disabled": True}}}))
    with TestClient(create_app(settings, agent=Echo().agent()), base_url="http://localhost") as c:
        assert c.get("/readyz").json()["checks"]["mcp"] == "none"
