"""Every benchmark runs (in --quick mode) and prints results in the agreed JSON shape.

Timing is never asserted here: benchmarks compare against a baseline of the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Run in full by tests/chaos/test_chaos.py (a whole stack for minutes), which checks the
# same results against the same JSON shape; a --quick run here would start it twice more.
RUN_BY_THEIR_TIER = {"chaos", "soak"}
# A leading underscore marks a helper a benchmark runs (e.g. its baseline program).
BENCHMARKS = sorted(
    p.stem
    for p in (ROOT / "bench").glob("*.py")
    if p.stem != "common" and not p.stem.startswith("_") and p.stem not in RUN_BY_THEIR_TIER
)


def test_there_are_benchmarks() -> None:
    assert BENCHMARKS


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_prints_json_results_with_a_baseline(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    check_results([json.loads(line) for line in result.stdout.splitlines() if line.strip()])


def check_results(results: list[dict[str, Any]]) -> None:
    """The agreed shape: each result beside a baseline of the same run."""
    assert results
    for row in results:
        assert {"bench", "case", "unit", "value", "baseline", "ratio"} <= row.keys()
        assert row["value"] >= 0
        assert row["baseline"]["value"] > 0
        assert row["baseline"]["case"] != row["case"]
