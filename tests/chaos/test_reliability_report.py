"""scripts/reliability.py: RELIABILITY.md from the recorded figures, nothing typed by hand."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "reliability", ROOT / "scripts" / "reliability.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["reliability"] = module
    spec.loader.exec_module(module)
    return module


def write(folder: Path, kind: str, rows: list[dict[str, Any]]) -> None:
    (folder / f"{kind}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_every_figure_lands_in_the_document(tmp_path: Path) -> None:
    write(tmp_path, "chaos", [
        {"recorded": 1.0, "scenario": "baseline", "verdict_latency_p50_s": 0.012,
         "verdict_latency_max_s": 0.05, "judged": 100},
        {"recorded": 2.0, "scenario": "kill -9 gate", "target": "paper-gate-0", "mid_batch": True,
         "recovery_s": 2.9, "lost": 0, "doubled": 0, "steps_s": {"all_ready": 1.2, "x_y": 2.9},
         "restarts": ["paper-gate-0"]},
        {"recorded": 2.5, "scenario": "SIGSTOP two", "target": "a-0, b-0",
         "victims": ["a-0", "b-0"], "recovery_s": 40.0, "lost": 0, "doubled": 0,
         "steps_s": {"back a-0": 35.25, "back b-0": 39.0, "victim_back": 39.0},
         "restarts": ["a-0", "b-0"]},
        {"recorded": 3.0, "scenario": "kill -9 Redis master", "target": "redis master",
         "mid_batch": None, "recovery_s": None, "lost": 2, "doubled": 1, "restarts": []},
    ])  # fmt: skip
    write(tmp_path, "soak", [
        {"soak": "memory", "process": "paper-gate-0", "pid": 7, "samples": 30, "span_s": 170.0,
         "start_bytes": 48 * 2**20, "end_bytes": 49 * 2**20,
         "growth_bytes_per_hour": 200 * 2**20, "limit_bytes_per_hour": 64 * 2**20},
        {"soak": "keys", "keys": 10, "untimed_family_limit": 64,
         "untimed_families": {"quantum:state:portfolio": 1}, "streams": {"s": 5},
         "longest_ttl_s": {"quantum:once:*": 86400}},
        {"soak": "total", "seconds": 180.0, "faults": 1, "load_proposals": 1800,
         "lost": 0, "doubled": 0},
    ])  # fmt: skip
    write(tmp_path, "soak_bench", [
        {"soak": "memory", "process": "paper-intel-0", "pid": 9, "samples": 360,
         "span_s": 1790.0, "start_bytes": 46 * 2**20, "end_bytes": 47 * 2**20,
         "growth_bytes_per_hour": 2 * 2**20, "limit_bytes_per_hour": 80 * 2**20},
        {"soak": "total", "seconds": 1800.0, "faults": 12, "load_proposals": 18000,
         "lost": 0, "doubled": 0},
    ])  # fmt: skip
    checks = [{"check": "pods locked down", "outcome": "passed"},
              {"check": "no password in logs", "outcome": "failed"}]  # fmt: skip
    write(tmp_path, "security", checks)
    text = generator().document(tmp_path)
    assert (
        "| kill -9 gate | paper-gate-0 | yes | 2.9 | 0 | 0 | x y (2.9 s) | paper-gate-0 |" in text
    )
    assert "| kill -9 Redis master | redis master | - | not recovered | 2 | 1 |" in text
    assert "SIGSTOP two: each process was replaced and serving again after a-0 35.2 s," in text
    assert "3 faults: 2 lost, 1 doubled" in text
    assert "median; worst 0.050 s, 100 proposals" in text
    assert "| paper-gate-0 | 7 | 30 | 170.0 | 48.0 | 49.0 | 200.0 | 64.0 | NO |" in text
    assert "3.0 minutes, 1800 load proposals, 1 random faults" in text
    by_hand = text.index("## Soak by hand")
    assert text.index("30.0 minutes, 18000 load proposals, 12 random faults") > by_hand
    assert "| paper-intel-0 | 9 | 360 | 1790.0 | 46.0 | 47.0 | 2.0 | 80.0 | yes |" in text
    assert "`quantum:once:*` 86400 s" in text
    assert "1 of 2 checks passed." in text


def test_no_figures_says_so(tmp_path: Path) -> None:
    text = generator().document(tmp_path)
    for section in ("chaos", "soak", "security"):
        assert f"No {section} figures were recorded." in text
    assert "No soak was run by hand" in text
