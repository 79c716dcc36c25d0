"""bench.frontend runs: its quick mode prints its tables, and what it counts (elements, bytes)
is within the front end's targets; its times are measured, not asserted."""

from __future__ import annotations

import re

import pytest
from bench import frontend


@pytest.mark.slow
@pytest.mark.browser
def test_quick_run_counts_within_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    frontend.main(["--quick"])
    out = capsys.readouterr().out
    for heading in ("Opening a conversation", "Scrolling the 2,000-message", "Streaming 4,000"):
        assert heading in out
    growth = re.search(r"elements at the top / opened: ([\d.]+)x", out)
    assert growth is not None and float(growth[1]) <= 3
    first = re.search(r"^first\s+([\d,]+)\s+([\d,]+)", out, re.MULTILINE)
    repeat = re.search(r"^repeat \(all bytes\)\s+([\d,]+)", out, re.MULTILINE)
    assert first is not None and repeat is not None
    compressed, decoded = (int(first[i].replace(",", "")) for i in (1, 2))
    assert compressed < 60_000 < decoded  # compressed, and under the first-load budget
    assert int(repeat[1].replace(",", "")) < 10_000
