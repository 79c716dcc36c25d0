"""bench.search runs: its quick mode on SQLite writes the data, migrates it, searches it through
a real `parley serve` and prints its tables (the figures themselves are not checked)."""

from __future__ import annotations

import re

import pytest
from bench import search


def test_the_counted_matches_follow_the_text() -> None:
    data = search.corpus(search.QUICK)
    counts = {q.label: q for q in data.queries}
    assert len(data.messages) == search.QUICK.messages
    assert len(data.conversations) == search.QUICK.conversations
    assert counts["no hits"].messages == 0
    assert 0 < counts["rare word"].messages <= 5
    assert counts["rare word"].messages < counts["phrase"].messages
    assert counts["two words"].messages < counts["common word"].messages
    assert counts["common word"].messages < counts["most frequent word"].messages
    # Counted while writing: check one query against the text itself.
    word = counts["common word"].text
    holding = sum(bool(re.search(rf"\b{word}\b", m[5], re.IGNORECASE)) for m in data.messages)
    assert holding == counts["common word"].messages


@pytest.mark.slow
def test_quick_run_on_sqlite_prints_its_tables(capsys: pytest.CaptureFixture[str]) -> None:
    search.main(["--quick", "--database", "sqlite"])
    out = capsys.readouterr().out
    assert "== SQLite" in out
    assert "migration 0004 -> " in out
    rows = {}
    for line in out.splitlines():
        for label in ("common word", "rare word", "two words", "prefix, 3 letters", "phrase"):
            if line.startswith(label):
                rows[label] = line.split()
        if line.startswith("no hits"):
            rows["no hits"] = line.split()
    assert len(rows) == 6, out
    # Every query answered 200 with numbers: page, n, p50, p95 last; a query that matches
    # found conversations, the one that matches nothing found none.
    for label, cells in rows.items():
        page, samples, p50, p95 = cells[-4:]
        found = re.fullmatch(r"(\d+)\+?!?", page)
        assert found, out
        assert (int(found[1]) == 0) == (label == "no hits"), out
        assert int(samples) == search.QUICK.samples, out
        assert float(p50) <= float(p95), out
    assert re.search(r"^added\s+[+-]\d", out, re.MULTILINE), out
    assert "with the index" in out
    assert "server logs: clean" in out
