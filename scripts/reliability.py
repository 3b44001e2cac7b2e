#!/usr/bin/env python3
"""Write RELIABILITY.md from the figures the test command recorded (issue #17).

Reads ``chaos.jsonl``, ``soak.jsonl`` and ``security.jsonl`` from the reliability folder
(``TRADINGSTACK_RELIABILITY_DIR``, default ``.reliability/``; tests/harness/reliability.py
writes them), and ``soak_bench.jsonl`` (``python -m bench.soak``, run by hand), and
prints the document, or writes it with ``--out``. Nothing in it is typed by hand: run the
tests, then ``python scripts/reliability.py --out RELIABILITY.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
Row = Mapping[str, Any]


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _seconds(value: object) -> str:
    return "not recovered" if value is None else f"{float(str(value)):.1f}"


def _mib(value: object) -> str:
    return "-" if value is None else f"{float(str(value)) / MIB:.1f}"


def _slowest(steps: Mapping[str, float] | None) -> str:
    if not steps:
        return "-"
    name = max(steps, key=lambda k: steps[k])
    return f"{name.replace('_', ' ')} ({steps[name]:.1f} s)"


def _when(rows: Sequence[Row]) -> str:
    stamps = [float(r["recorded"]) for r in rows if "recorded" in r]
    if not stamps:
        return "no figures recorded"
    return datetime.fromtimestamp(max(stamps), UTC).strftime("%Y-%m-%d %H:%M UTC")


def chaos_section(rows: Sequence[Row]) -> list[str]:
    out = ["## Faults under load (tests/chaos, `python -m bench.chaos`)", ""]
    if not rows:
        return [*out, "No chaos figures were recorded.", ""]
    base = [r for r in rows if "verdict_latency_p50_s" in r]
    if base:
        b = base[-1]
        out += [f"Without a fault, a proposal was judged in {b['verdict_latency_p50_s']:.3f} s "
                f"(median; worst {b['verdict_latency_max_s']:.3f} s, {b['judged']} proposals)."
                " Recovery runs from the fault until the victim is back, every process is"
                " ready, new proposals are judged, the backlog from before the fault is judged"
                " and the hit kind's own output is fresh again.", ""]  # fmt: skip
    faults = [r for r in rows if "recovery_s" in r]
    out += _table(
        ["fault", "target", "mid-batch", "recovery (s)", "lost", "doubled", "slowest step",
         "restarted by `up`"],
        ([r["scenario"], r["target"], {True: "yes", False: "no"}.get(r.get("mid_batch"), "-"),
          _seconds(r["recovery_s"]), r["lost"], r["doubled"], _slowest(r.get("steps_s")),
          ", ".join(r.get("restarts") or []) or "-"] for r in faults),
    )  # fmt: skip
    for r in faults:
        if len(r.get("victims") or []) > 1:
            steps = r.get("steps_s") or {}
            back = ", ".join(f"{v} {_seconds(steps.get(f'back {v}'))} s" for v in r["victims"])
            out += ["", f"{r['scenario']}: each process was replaced and serving again after"
                    f" {back}."]  # fmt: skip
    lost = sum(int(r["lost"]) for r in faults)
    doubled = sum(int(r["doubled"]) for r in faults)
    out += ["", f"{len(faults)} faults: {lost} lost, {doubled} doubled. Lost and doubled are"
            " counted by stage: proposals, verdicts (gate audit), execution results, fills"
            " against results, intel's count, fills against the ledger's positions.",
            ""]  # fmt: skip
    return out


def soak_section(rows: Sequence[Row], title: str, missing: str) -> list[str]:
    out = [f"## {title}", ""]
    totals = [r for r in rows if r.get("soak") == "total"]
    if not totals:
        return [*out, missing, ""]
    total = totals[-1]
    faults = [r for r in rows if r.get("soak") == "fault"]
    out += [f"{total['seconds'] / 60:.1f} minutes, {total['load_proposals']} load proposals,"
            f" {total['faults']} random faults ({', '.join(r['scenario'] for r in faults)}):"
            f" {total['lost']} lost, {total['doubled']} doubled.", ""]  # fmt: skip
    memory = [r for r in rows if r.get("soak") == "memory"]
    out += _table(
        ["process", "pid", "samples", "span (s)", "start (MiB)", "end (MiB)",
         "growth (MiB/h)", "limit (MiB/h)", "within"],
        ([r["process"], r["pid"] or "-", r["samples"], r["span_s"], _mib(r["start_bytes"]),
          _mib(r["end_bytes"]), _mib(r["growth_bytes_per_hour"]),
          _mib(r["limit_bytes_per_hour"]),
          "too short" if r["growth_bytes_per_hour"] is None
          else "yes" if r["growth_bytes_per_hour"] <= r["limit_bytes_per_hour"] else "NO"]
         for r in memory),
    )  # fmt: skip
    keys = [r for r in rows if r.get("soak") == "keys"]
    if keys:
        k = keys[-1]
        sizes = k["untimed_families"]
        largest = max(sizes.values(), default=0)
        biggest = ", ".join([f"`{f}`" for f, n in sizes.items() if n == largest][:4])
        untimed = f"{len(sizes)} families, the largest with {largest} keys ({biggest})"
        ttl = ", ".join(f"`{f}` {t} s" for f, t in sorted(k.get("longest_ttl_s", {}).items(),
                                                         key=lambda i: -i[1])[:6])  # fmt: skip
        streams = ", ".join(f"`{s}` {n}" for s, n in sorted(k["streams"].items()))
        out += ["", f"Keys at the end: {k['keys']}. Key families without a TTL (limit"
                f" {k['untimed_family_limit']} keys each): {untimed}. Longest TTLs:"
                f" {ttl or 'none'}. Streams (each written with MAXLEN ~): {streams}."]  # fmt: skip
    return [*out, ""]


def security_section(rows: Sequence[Row]) -> list[str]:
    out = ["## Security checks (tests/security, tests/chaos, tests/controlplane, tests/pods)", ""]
    if not rows:
        return [*out, "No security figures were recorded.", ""]
    passed = sum(1 for r in rows if r["outcome"] == "passed")
    out += [f"{passed} of {len(rows)} checks passed.", ""]
    out += _table(["check", "outcome"], ([r["check"], r["outcome"]] for r in rows))
    return [*out, ""]


def document(folder: Path) -> str:
    chaos = read_rows(folder / "chaos.jsonl")
    soak = read_rows(folder / "soak.jsonl")
    long_soak = read_rows(folder / "soak_bench.jsonl")
    security = read_rows(folder / "security.jsonl")
    lines = [
        "# Reliability",
        "",
        "Generated by `scripts/reliability.py` from the JSON figures of the test command"
        " (`.reliability/*.jsonl`); do not edit by hand. Figures of the run of"
        f" {_when([*chaos, *soak, *security])}, on {os.cpu_count()} cores shared with other"
        " test runs: durations are figures of this machine, never limits.",
        "",
        *chaos_section(chaos),
        *soak_section(
            long_soak,
            "Soak by hand (`python -m bench.soak --minutes 30`)",
            "No soak was run by hand: `python -m bench.soak --minutes 30` records"
            " one in `soak_bench.jsonl`.",
        ),
        *soak_section(
            soak,
            "Soak in the test command (3 minutes, tests/chaos)",
            "No soak figures were recorded.",
        ),
        *security_section(security),
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    default = os.environ.get("TRADINGSTACK_RELIABILITY_DIR") or str(ROOT / ".reliability")
    p.add_argument("--dir", type=Path, default=Path(default))
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    text = document(args.dir)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
