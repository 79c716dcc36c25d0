"""`parley serve`, `parley migrate` and `parley --version`, called in process where they can be."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from parley.db.tables import metadata

from ..support.cli import run_cli
from ..support.databases import engine_on, sqlite_url


def test_parley_migrate_creates_the_database(database_url: str, tmp_path: Path) -> None:
    db = tmp_path / "sub" / "cli.db"
    if database_url.startswith("sqlite"):
        database_url = sqlite_url(db)  # a file in a directory that does not exist yet
    result = run_cli("migrate", "--database-url", database_url)
    assert result.returncode == 0, result.stderr
    if database_url.startswith("sqlite"):
        assert db.exists()

    async def tables() -> set[str]:
        async with engine_on(database_url) as engine, engine.connect() as conn:
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))

    assert set(metadata.tables) | {"alembic_version"} <= asyncio.run(tables())


def test_a_missing_model_file_is_a_one_line_error(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "parley.db")
    result = run_cli("serve", "--database-url", url, "--model", f"local:{tmp_path}/nope.gguf")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no model file at" in result.stderr


def test_version_flag_answers_without_loading_the_stack() -> None:
    # A fresh interpreter: in this one, the tests have imported everything already.
    script = (
        "import sys\n"
        "from parley.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('pydantic_ai', 'fastapi', 'sqlalchemy', 'llama_cpp')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("parley 0.1.0")
    assert result.stdout.strip().endswith("[]"), result.stdout
