"""`parley export` and `parley import`: a user's data out and in from the command line, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ..support.cli import add_user, run_cli
from ..support.client import new_conversation, send
from ..support.models import tool_agent


def test_export_and_import_the_local_user(
    make_client: Callable[..., TestClient], database_url: str, tmp_path: Path
) -> None:
    client = make_client(tool_agent())
    cid = new_conversation(client)
    send(client, cid, "hello from the command line")
    archived = new_conversation(client)
    send(client, archived, "an archived one")
    client.patch(f"/api/conversations/{archived}", json={"archived": True})

    out = tmp_path / "everything.json"
    exported = run_cli("export", "--database-url", database_url, "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    document = json.loads(out.read_text())
    assert sorted(c["id"] for c in document["conversations"]) == sorted([cid, archived])
    # Standard output gives the same document.
    printed = run_cli("export", "--database-url", database_url)
    assert json.loads(printed.stdout)["conversations"] == document["conversations"]

    again = run_cli("import", str(out), "--database-url", database_url)
    assert again.returncode == 0, again.stderr
    assert "parley: imported 0, skipped 2 (imported before), refused 0" in again.stdout

    for conversation in (cid, archived):
        assert client.delete(f"/api/conversations/{conversation}").status_code == 204
    back = run_cli("import", str(out), "--database-url", database_url)
    assert back.returncode == 0, back.stderr
    assert "imported 2, skipped 0" in back.stdout
    assert client.get(f"/api/conversations/{archived}").json()["archived"] is True


def test_accounts_mode_names_the_user(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(database_url, "alice", "correct horse battery")
    sample = tmp_path / "chatgpt.json"
    sample.write_text("[1]")
    refused = run_cli("import", str(sample), "--database-url", database_url, "--user", "bob")
    assert refused.returncode == 1 and "no user 'bob'" in refused.stderr
    broken = run_cli("import", str(sample), "--database-url", database_url, "--user", "alice")
    assert broken.returncode == 1 and "neither a mapping nor chat_messages" in broken.stderr
    missing = run_cli("import", str(tmp_path / "nope.json"), "--database-url", database_url)
    assert missing.returncode == 1 and "No such file" in missing.stderr
    monkeypatch.setenv("PARLEY_AUTH", "accounts")
    alone = run_cli("export", "--database-url", database_url)
    assert alone.returncode == 1 and "--user" in alone.stderr
    named = run_cli("export", "--database-url", database_url, "--user", "alice")
    assert named.returncode == 0 and json.loads(named.stdout)["conversations"] == []
