"""Seed 003's five dashboard queries as pure functions of window counts and health.

Each returns plain JSON-ready data (``--json`` prints it as is; :mod:`.tables`
draws it). Percentages are of all decisions in the window (of the symbol's, in B)
and rounded to two decimals; rankings break ties by name so output is stable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..wire.result import COUNTED, UNKNOWN
from .actions import action_for
from .alerts import AlertPolicy, ranking, severity
from .buckets import Window
from .store import Health

TOP_REASONS = 15
TOP_GATES = 10
#: Seed 003's healthy baseline: UNKNOWN decisions should stay under 5 %.
UNKNOWN_OK_PCT = 5.0

Json = dict[str, Any]


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _rows(counts: Mapping[str, int], whole: int, limit: int) -> list[Json]:
    return [{"reason": r, "count": n, "pct": _pct(n, whole)} for r, n in ranking(counts)[:limit]]


def window_info(w: Window) -> Json:
    return {
        "start": w.start,
        "end": w.end,
        "buckets": len(w.starts),
        "bucket_seconds": w.bucket_seconds,
    }


def overview(w: Window) -> Json:
    """A: "why are we not trading now?" Decision distribution, top reasons, skip rate."""
    total = w.total
    unknown = w.decisions.get(UNKNOWN, 0)
    unknown_pct = _pct(unknown, total)
    return {
        "window": window_info(w),
        "total": total,
        "decisions": [
            {
                "decision": d,
                "count": w.decisions.get(d, 0),
                "pct": _pct(w.decisions.get(d, 0), total),
            }
            for d in COUNTED
        ],
        "skip_rate_pct": _pct(w.decisions.get("SKIP", 0), total),
        "top_reasons": _rows(w.reasons, total, TOP_REASONS),
        "data_quality": {
            "unknown": unknown,
            "unknown_pct": unknown_pct,
            "ok": unknown_pct < UNKNOWN_OK_PCT,
            "note": (
                "decisions outside EXECUTE/SKIP/BLOCKED/ERROR: a writer breaks the "
                "execution-result contract (see its raw decision in the stream)"
                if unknown
                else ""
            ),
        },
    }


def per_symbol(w: Window, symbols: Sequence[str] = ()) -> Json:
    """B: top gates per symbol (every symbol seen in the window when none are named)."""
    names = list(symbols) or [s for s, _ in ranking(w.symbols)]
    rows = []
    for symbol in names:
        total = w.symbols.get(symbol, 0)
        reasons = w.symbol_reasons.get(symbol, {})
        rows.append({"symbol": symbol, "total": total, "gates": _rows(reasons, total, TOP_GATES)})
    return {"window": window_info(w), "symbols": rows}


def gate_share(w: Window, threshold_pct: float, prefix: str) -> Json:
    """C: top gates with their share; those above the threshold (40 %) are dominant."""
    gates = _rows(w.reasons, w.total, TOP_GATES)
    for gate in gates:
        gate["dominant"] = gate["pct"] > threshold_pct
    return {
        "window": window_info(w),
        "total": w.total,
        "threshold_pct": threshold_pct,
        "gates": gates,
        "dominant": [
            {
                "reason": g["reason"],
                "pct": g["pct"],
                "action": action_for(g["reason"]).as_dict(prefix),
            }
            for g in gates
            if g["dominant"]
        ],
    }


def drift(w: Window, threshold_pct: float, policy: AlertPolicy, prefix: str) -> Json:
    """D: gates over the threshold (as report C and the alerts), with their severity."""
    alerts = [
        {
            "reason": r,
            "count": n,
            "pct": _pct(n, w.total),
            "severity": severity(100.0 * n / w.total, policy),
            "action": action_for(r).as_dict(prefix),
        }
        for r, n in ranking(w.reasons)
        if w.total and 100.0 * n / w.total > threshold_pct
    ]
    return {
        "window": window_info(w),
        "total": w.total,
        "threshold_pct": threshold_pct,
        "healthy": not alerts,
        "alerts": alerts,
    }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def health(h: Health) -> Json:
    """E: service health: counted so far, pending, lag, consumers."""
    group = h.group or {}
    return {
        "group_exists": h.group is not None,
        "processed_total": _int(h.status.get("processed_total")) or 0,
        "unknown_total": _int(h.status.get("unknown_total")) or 0,
        "pending": _int(group.get("pending")),
        "lag": _int(group.get("lag")),
        "last_delivered_id": group.get("last-delivered-id"),
        "consumers": [
            {"name": str(c["name"]), "pending": int(c["pending"]), "idle_ms": int(c["idle"])}
            for c in sorted(h.consumers, key=lambda c: str(c["name"]))
        ],
        "status_updated_ts": float(h.status["updated_ts"]) if h.status.get("updated_ts") else None,
    }
