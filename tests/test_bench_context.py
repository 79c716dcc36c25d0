"""bench.context runs: its quick mode prints the table, and what it counts is flat past the
window (rows read and bytes sent; CPU is measured, not asserted)."""

from __future__ import annotations

import pytest
from bench import context


@pytest.mark.slow
def test_quick_run_prints_a_flat_table(capsys: pytest.CaptureFixture[str]) -> None:
    context.main(["--quick"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert [(r[0], r[1]) for r in rows] == [
        (size, mode) for size in ("10", "1,000", "5,000") for mode in ("warm", "cold")
    ]
    # Past the window the turn reads and sends the same, however long the conversation.
    by_size = {(r[0], r[1]): (r[4], r[6]) for r in rows}
    assert by_size[("1,000", "warm")] == by_size[("5,000", "warm")]
    assert by_size[("1,000", "cold")] == by_size[("5,000", "cold")]
