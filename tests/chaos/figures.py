"""The chaos and soak rows as benchmark results (bench/README.md's JSON shape).

A fault's recovery, in seconds, beside the stack's verdict latency with no fault in the
same run; a process's memory growth per hour, beside its own resident size at the start.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

PARAMS = ("target", "mid_batch", "held_entries", "lost", "doubled", "steps_s", "restarts", "stages")


def chaos_results(rows: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    (base,) = [r for r in rows if "verdict_latency_p50_s" in r]
    baseline = {"case": "verdict latency p50, no fault", "value": base["verdict_latency_p50_s"]}
    for row in rows:
        if row is base or row.get("recovery_s") is None:
            continue
        value = float(row["recovery_s"])
        yield {
            "bench": "chaos",
            "case": row["scenario"],
            "unit": "s",
            "value": value,
            "baseline": baseline,
            "ratio": round(value / baseline["value"], 1),
            "params": {k: row[k] for k in PARAMS if k in row},
        }


def soak_results(rows: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        growth = row.get("growth_bytes_per_hour")
        if row.get("soak") != "memory" or growth is None or not row["start_bytes"]:
            continue
        yield {
            "bench": "soak",
            "case": f"{row['process']} memory growth",
            "unit": "bytes/h",
            "value": max(0, growth),  # a shrinking process grows by nothing
            "baseline": {"case": f"{row['process']} size at start", "value": row["start_bytes"]},
            "ratio": round(max(0, growth) / row["start_bytes"], 4),
            "params": {
                "growth_bytes_per_hour": growth,
                "pid": row["pid"],
                "limit_bytes_per_hour": row["limit_bytes_per_hour"],
                "span_s": row["span_s"],
            },
        }
