"""bench.archive runs: its quick mode seeds, exports, imports and measures `parley import`'s
peak memory in a process of its own, and prints its tables (the figures are not checked)."""

from __future__ import annotations

import pytest
from bench import archive


def test_quick_run_prints_its_tables(capsys: pytest.CaptureFixture[str]) -> None:
    archive.main(["--quick"])
    out = capsys.readouterr().out
    assert "20 conversations, 1,000 messages" in out
    assert "import (into an empty database)" in out
    assert "peak RSS MB" in out and "2 MB" in out
