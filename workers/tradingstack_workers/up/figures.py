"""The pipeline's figures for the live view, read from the stack's Redis once a second."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, cast

import redis

from ..keys import Keys
from ..wire import BadEntry, ClusterStateHash, ExecutionResult, PortfolioStateHash

T = TypeVar("T")

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
    #: Entries and hashes read that broke their contract (wire), by key.
    malformed: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _budgets(client: redis.Redis, keys: Keys) -> int:
    """The governor's budgets in force: it writes one per indexed snapshot symbol, so
    they are counted there rather than by a SCAN of the whole keyspace each refresh."""
    symbols = [str(s) for s in client.smembers(keys.snapshot_index) or ()]
    return int(client.exists(*(keys.budget(s) for s in symbols))) if symbols else 0


def read(client: redis.Redis, keys: Keys, accounts: list[str], now: float) -> Figures:
    """One consistent-enough look at the pipeline at ``now`` (epoch seconds); Redis being
    away is a figure too, and so is an entry or hash that breaks its contract."""
    malformed: Counter[str] = Counter()

    def parsed(name: str, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except BadEntry:
            malformed[name] += 1
            return None

    def hash_at(name: str, key: str) -> dict[str, str]:
        """The hash at ``key``; a key of another type is counted, not a failed view."""
        try:
            return cast(dict[str, str], client.hgetall(key) or {})
        except redis.ResponseError as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            malformed[name] += 1
            return {}

    try:
        recent: list[Any] = client.xrevrange(keys.result_stream, count=RECENT_RESULTS) or []
        decisions: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for _, fields in recent:
            result = parsed("results", partial(ExecutionResult.parse, fields, now))
            if result is not None:
                decisions[result.decision] += 1
                reasons[result.reason] += 1
        raw_state = hash_at("portfolio", keys.portfolio_state)
        state = (
            parsed("portfolio", lambda: PortfolioStateHash.parse(raw_state, now))
            if raw_state
            else None
        )
        raw_cluster = hash_at("cluster_state", keys.cluster_state)
        cluster = (
            parsed("cluster_state", lambda: ClusterStateHash.parse(raw_cluster, now))
            if raw_cluster
            else None
        )
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
            equity_usd=state.equity_usd if state else None,
            drawdown=state.drawdown if state else None,
            open_positions=positions,
            cluster_stress=cluster.cluster_stress if cluster else None,
            budgets=_budgets(client, keys),
            malformed=dict(malformed),
        )
    except redis.RedisError as exc:
        return Figures(error=f"{type(exc).__name__}: {exc}")
