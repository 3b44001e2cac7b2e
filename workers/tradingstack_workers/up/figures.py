"""The pipeline's figures for the live view, read from the stack's Redis once a second."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from ..keys import Keys

#: The latest execution results counted for decisions and reasons (a recent window).
RECENT_RESULTS = 500


@dataclass(frozen=True)
class Figures:
    proposals: int = 0
    gate_verdicts: int = 0
    results: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    equity_usd: float | None = None
    drawdown: float | None = None
    open_positions: int = 0
    cluster_stress: float | None = None
    budgets: int = 0
    error: str | None = None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _count(client: redis.Redis, pattern: str) -> int:
    return sum(1 for _ in client.scan_iter(match=pattern, count=500))


def read(client: redis.Redis, keys: Keys, accounts: list[str]) -> Figures:
    """One consistent-enough look at the pipeline; Redis being away is a figure too."""
    try:
        recent: list[Any] = client.xrevrange(keys.result_stream, count=RECENT_RESULTS) or []
        decisions: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for _, fields in recent:
            decisions[str(fields.get("decision", "?"))] += 1
            reasons[str(fields.get("reason", "?"))] += 1
        portfolio = cast(dict[str, Any], client.hgetall(keys.portfolio_state) or {})
        clusters = cast(dict[str, Any], client.hgetall(keys.cluster_state) or {})
        positions = sum(
            1
            for account in accounts
            for qty in (client.hgetall(keys.positions(account)) or {}).values()
            if _float(qty)
        )
        return Figures(
            proposals=int(client.xlen(keys.proposal_stream)),
            gate_verdicts=int(client.xlen(keys.gate_audit_stream)),
            results=int(client.xlen(keys.result_stream)),
            decisions=dict(decisions),
            top_reasons=reasons.most_common(3),
            equity_usd=_float(portfolio.get("equity_usd")),
            drawdown=_float(portfolio.get("drawdown")),
            open_positions=positions,
            cluster_stress=_float(clusters.get("cluster_stress")),
            budgets=_count(client, keys.budget("*")),
        )
    except redis.RedisError as exc:
        return Figures(error=f"{type(exc).__name__}: {exc}")
