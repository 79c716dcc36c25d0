"""bench.observe runs: its quick mode prints a row per variant, and the scrape column only for
the variants with metrics (CPU is measured, not asserted)."""

from __future__ import annotations

import pytest
from bench import observe


@pytest.mark.slow
def test_quick_run_prints_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    observe.main(["--quick"])
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[3:] if line.strip()}
    assert list(rows) == ["off", "metrics", "tracing", "both"]
    assert all(row[1] == "10" for row in rows.values())
    assert rows["off"][5] == rows["tracing"][5] == "-"
    assert float(rows["metrics"][5]) > 0 and float(rows["both"][5]) > 0
