"""bench/surge_flood.py runs end to end on a small flood and prints its figures (the figures
themselves, and whether they meet the target, are the bench's business, not a test's)."""

from __future__ import annotations

import pytest

from bench.surge_flood import main

pytestmark = pytest.mark.slow


async def test_the_surge_flood_bench_completes_and_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    await main(["--reports", "60", "--speed", "60", "--verifiers", "2", "--coordinators", "1"])
    out = capsys.readouterr().out
    assert "── baseline" in out and "── flood" in out
    for figure in ("Submit → on the desk", "queue position", "open incidents in the queue", "cards received", "ratio"):
        assert figure in out
    assert "target" in out.splitlines()[-1]
