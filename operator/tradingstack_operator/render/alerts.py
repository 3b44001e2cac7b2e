"""Alert rules: the seeds' "live health" checks, scoped to one stack's targets.

Expressions keep the seeds' metric names (seed 000/001 for P2.7 and P2.6, seed 002 for
P2.8) so the desk's existing dashboards and habits still apply. The ``stack`` and
``namespace`` labels come from the monitors' relabelling (see monitoring.py).
"""

from __future__ import annotations

from typing import NamedTuple

from tradingstack_workers.clusters.sample import min_points
from tradingstack_workers.runtime.metrics import HEARTBEAT

from .stack import Manifest, Stack
from .workers import enabled_workers


class _Alert(NamedTuple):
    name: str
    expr: str
    duration: str
    severity: str
    summary: str
    runbook: str

    def rule(self) -> Manifest:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.duration,
            "labels": {"severity": self.severity},
            "annotations": {
                "summary": self.summary,
                "description": f"{self.summary} (stack {{{{ $labels.stack }}}}, "
                "namespace {{ $labels.namespace }}).",
                "runbook": self.runbook,
            },
        }


def _clusters(sel: str, threshold: float) -> list[_Alert]:
    needed = min_points(threshold)
    return [
        _Alert(
            "TradingStackClustersStale",
            f"rate(p27_updates_total{{{sel}}}[10m]) == 0",
            "5m",
            "critical",
            "P2.7 clusters stopped updating the cluster state; the gate falls back to proxy",
            "kubectl logs the clusters pod; check Redis reachability (/readyz) and that "
            "position snapshots are written (HGETALL <prefix>:position:snapshot:<SYMBOL>).",
        ),
        _Alert(
            "TradingStackCorrelationNotReady",
            f"p27_corr_ready{{{sel}}} == 0",
            "15m",
            "warning",
            "P2.7 has had too few price points to correlate for 15 minutes",
            f"Check p27_points_per_symbol: each symbol needs {needed} points at threshold "
            f"{threshold:g}; symbols without a position produce no snapshots.",
        ),
    ]


def _gate(sel: str) -> list[_Alert]:
    return [
        _Alert(
            "TradingStackGateFallingBack",
            f"increase(p26_cluster_fallback_total{{{sel}}}[30m]) > 0",
            "30m",
            "warning",
            "P2.6 gate keeps falling back to proxy correlation",
            "The cluster state is stale or missing: check the clusters worker and "
            "HGETALL <prefix>:portfolio:cluster_state (updated_ts older than 120 s is stale).",
        ),
        _Alert(
            "TradingStackSnapshotsStale",
            f"max(p26_snapshot_age_seconds{{{sel}}}) > 300",
            "5m",
            "warning",
            "Position snapshots are older than 5 minutes",
            "The bots write snapshots: check the active bot's logs and its Lease holder.",
        ),
    ]


def _governor(sel: str) -> list[_Alert]:
    return [
        _Alert(
            "TradingStackPortfolioStateTooOld",
            f"rate(p28_portfolio_too_old_total{{{sel}}}[5m]) * 60 > 10",
            "5m",
            "critical",
            "P2.8 fails open: portfolio state too old, budgets not written",
            "The portfolio state producer (the active bot) is down or not writing "
            "<prefix>:state:portfolio.",
        ),
        _Alert(
            "TradingStackGovernorOnCachedState",
            # A gauge, not a rate: at one cycle per 5 s the seed's "> 50 per minute" on
            # p28_lkg_cache_used_total could never fire.
            f'max by (namespace, stack) (p28_portfolio_source{{{sel},source="lkg"}}) == 1',
            "10m",
            "warning",
            "P2.8 runs on its last-known-good portfolio state",
            "The fresh portfolio state is degraded: check the active bot and Redis.",
        ),
        # No "governor stopped" rule on p28_budget_computed_total: it stays flat on a flat
        # book and while failing open (alerted above); a stopped loop is caught by the
        # heartbeat alert every worker has.
    ]


def rules(stack: Stack) -> list[Manifest]:
    """Alert rules for the enabled workers, plus a heartbeat alert for every pod."""
    sel = f'namespace="{stack.namespace}",stack="{stack.name}"'
    threshold = stack.spec.workers.clusters.correlation_threshold
    per_worker = {
        "clusters": lambda sel: _clusters(sel, threshold),
        "gate": _gate,
        "governor": _governor,
    }
    alerts = [a for kind in enabled_workers(stack.spec) if kind in per_worker
              for a in per_worker[kind](sel)]  # fmt: skip
    alerts.append(
        _Alert(
            "TradingStackWorkerHeartbeatStale",
            f"time() - {HEARTBEAT}{{{sel}}} > 60",
            "2m",
            "critical",
            "A worker's main loop has not beaten for over a minute",
            "The liveness probe should restart it: check kubectl get pods for restarts "
            "and the pod's logs for what blocks the loop.",
        )
    )
    return [alert.rule() for alert in alerts]
