"""Plain-text tables for the report: what an operator reads in a terminal at 3 a.m."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Left-aligned text, right-aligned numbers, two spaces between columns."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]
    out = []
    for n, row in enumerate(cells):
        parts = [
            c.rjust(w) if numeric[i] and n else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  " + "  ".join(parts).rstrip())
        if n == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    if not rows:
        out.append("  (none)")
    return out


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _window(w: Json) -> str:
    span = f"{_when(w['start'])} .. {_when(w['end'])}"
    return f"window {span} ({w['buckets']} x {w['bucket_seconds']} s)"


def _actions(reason: str, action: Json) -> list[str]:
    lines = [f"  -> {reason}: {action['meaning']}"]
    lines += [f"       diagnose: {d}" for d in action["diagnosis"]]
    lines += [f"       action:   {a}" for a in action["actions"]]
    return lines


def overview(a: Json) -> list[str]:
    lines = ["A) Why are we not trading now?", "  " + _window(a["window"]), ""]
    lines += table(
        ["decision", "count", "%"], [[d["decision"], d["count"], d["pct"]] for d in a["decisions"]]
    )
    lines += ["", f"  total {a['total']}, skip rate {a['skip_rate_pct']:.2f} %", ""]
    lines += table(
        ["reason", "count", "%"], [[r["reason"], r["count"], r["pct"]] for r in a["top_reasons"]]
    )
    dq = a["data_quality"]
    if dq["unknown"]:
        verdict = "within" if dq["ok"] else "ABOVE"
        share = f"{dq['unknown_pct']:.2f} %, {verdict} the 5 % baseline"
        lines += ["", f"  DATA QUALITY: {dq['unknown']} UNKNOWN decisions ({share}): {dq['note']}"]
    return lines


def per_symbol(b: Json) -> list[str]:
    lines = ["B) Top gates per symbol", "  " + _window(b["window"])]
    for s in b["symbols"]:
        lines += ["", f"  {s['symbol']} ({s['total']} decisions)"]
        lines += table(
            ["gate", "count", "%"], [[g["reason"], g["count"], g["pct"]] for g in s["gates"]]
        )
    if not b["symbols"]:
        lines += ["", "  (no symbols in the window)"]
    return lines


def gate_share(c: Json) -> list[str]:
    lines = [
        f"C) Gate share (dominant above {c['threshold_pct']:g} %)",
        "  " + _window(c["window"]),
        "",
    ]
    rows = [
        [g["reason"], g["count"], g["pct"], "DOMINANT" if g["dominant"] else ""] for g in c["gates"]
    ]
    lines += table(["gate", "count", "%", ""], rows)
    for d in c["dominant"]:
        lines += ["", *_actions(d["reason"], d["action"])]
    return lines


def drift(d: Json) -> list[str]:
    lines = [
        f"D) Drift detection (threshold {d['threshold_pct']:g} %)",
        "  " + _window(d["window"]),
        "",
    ]
    if d["healthy"]:
        return [
            *lines,
            f"  OK: no gate at or above {d['threshold_pct']:g} % of {d['total']} decisions",
        ]
    for a in d["alerts"]:
        held = f"{a['pct']:.2f} % ({a['count']} of {d['total']})"
        level = a["severity"] or "below MEDIUM"
        lines.append(f"  ALERT {level}: {a['reason']} holds {held}; action required")
        lines += _actions(a["reason"], a["action"])
    return lines


def health(e: Json, now: float) -> list[str]:
    lines = ["E) Service health (P3.5)", ""]
    if not e["group_exists"]:
        lines.append("  consumer group p35_decision_intel does not exist yet (intel never ran?)")
    updated = e["status_updated_ts"]
    age = f"{now - updated:.0f} s ago" if updated is not None else "never"
    rows = [
        ["processed_total", e["processed_total"]],
        ["unknown_total", e["unknown_total"]],
        ["pending", e["pending"]],
        ["lag", e["lag"]],
        ["last_delivered_id", e["last_delivered_id"]],
        ["status updated", age],
    ]
    lines += table(["metric", "value"], rows)
    consumers = [[c["name"], c["pending"], c["idle_ms"]] for c in e["consumers"]]
    lines += ["", *table(["consumer", "pending", "idle ms"], consumers)]
    return lines
