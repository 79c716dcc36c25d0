"""Lint, format and strict types run with the tests, so CI and a developer run the same checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_lint() -> None:
    result = _run("ruff", "check", "src", "tests", "bench", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _run("ruff", "format", "--check", "src", "tests", "bench", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_layers() -> None:
    # The contracts are in pyproject.toml ([tool.importlinter]): web on top of the domain
    # packages, the domain on top of db, and nothing below the web layer importing HTTP.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_javascript_types() -> None:
    # The front end is plain JS with JSDoc types; TypeScript checks them (tsconfig.json).
    tsc = os.environ.get("PARLEY_TSC") or shutil.which("tsc")
    if tsc is None:
        pytest.skip("TypeScript's tsc is not installed (.ci/run installs it; or set PARLEY_TSC)")
    result = subprocess.run(
        [tsc, "-p", "tsconfig.json"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
