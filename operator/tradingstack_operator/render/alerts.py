"""Alert rules: the seeds' "live health" checks, scoped to one stack's targets.

Expressions keep the seeds' metric names (seed 000/001 for P2.7 and P2.6, seed 002 for
P2.8) so the desk's existing dashboards and habits still apply. The ``stack`` and
``namespace`` labels come from the monitors' relabelling (see monitoring.py).
"""

from __future__ import annotations

from typing import NamedTuple

from tradingstack_workers.bots import metrics as bot_metrics
from tradingstack_workers.clusters.sample import min_points
from tradingstack_workers.runtime.metrics import HEARTBEAT, READY

from . import names
from .stack import Manifest, Stack
from .workers import enabled_workers

#: Every stack's series, whatever its name: the plain rule file (observability.py).
ANY_STACK = 'stack!=""'


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


def _bots(sel: str) -> list[_Alert]:
    """Seed 004's failover monitor and watchdog, as alerts on the bots' own series.

    The ``bot`` label comes from the PodMonitor's relabelling (monitoring.py). A bot
    whose pods are all gone exports nothing: :func:`_absent` covers that case.
    """
    by_bot = "namespace, stack, bot"
    return [
        _Alert(
            "TradingStackBotHeartbeatStale",
            # Seed 004 failed over at 60 s without a heartbeat; a bot beats every cycle
            # (5 s by default), leader and standby alike.
            f"time() - {bot_metrics.HEARTBEAT}{{{sel}}} > 60",
            "1m",
            "critical",
            "A bot instance has not completed a cycle for over a minute",
            "kubectl logs the pod (its cycle errors are counted in "
            "tradingstack_bot_errors_total by type); check Redis and the market feed. The "
            "liveness probe restarts a hung loop; a standby takes the Lease from a dead leader.",
        ),
        _Alert(
            "TradingStackBotNoLeader",
            f"max by ({by_bot}) ({bot_metrics.IS_LEADER}{{{sel}}}) == 0",
            "2m",
            "critical",
            "No instance of a bot holds its Lease: the account is not trading",
            "kubectl get lease <stack>-<bot> -o yaml: a holder that is gone should expire "
            "within the lease duration; check the bots' logs for Lease errors (RBAC, API "
            "server reachability) and that the stack is not halted on purpose.",
        ),
        _Alert(
            "TradingStackBotTwoLeaders",
            f"sum by ({by_bot}) ({bot_metrics.IS_LEADER}{{{sel}}}) > 1",
            "1m",
            "critical",
            "Two instances of one bot both believe they lead",
            "The fencing token refuses the stale leader's orders, but one pod has lost sight "
            "of the Lease: kubectl get lease <stack>-<bot>; delete the pod that is not the "
            "holder; check node clocks and API server reachability from that node.",
        ),
    ]


def _redis(sel: str) -> list[_Alert]:
    return [
        _Alert(
            "TradingStackRedisNoMaster",
            # Every worker's readiness asks the master (through Sentinel) for a PING;
            # when none of the stack's pods gets an answer, nobody can write.
            f"max by (namespace, stack) ({READY}{{{sel}}}) == 0",
            "2m",
            "critical",
            "No worker of the stack reaches a Redis master",
            "kubectl get ts <stack> (status.redisMaster, RedisReady); redis-cli -p 26379 "
            "SENTINEL get-master-addr-by-name mymaster in a Sentinel pod; check the Redis "
            "pods, their PVCs and the NetworkPolicy. Sentinel fails over by itself once a "
            "quorum sees the master down; never promote a replica by hand while it votes.",
        ),
    ]


def _absent(sel: str, targets: list[str]) -> _Alert:
    """One rule for every expected target set (``component="gate"``, ``...,bot="x"``):
    absent() of each, joined by ``or``, so the alert names the one that is gone."""
    expr = " or ".join(f"absent(up{{{sel},{target}}})" for target in targets)
    return _Alert(
        "TradingStackWorkerAbsent",
        expr,
        "5m",
        "critical",
        "Prometheus has no target for a worker or bot: its pods are gone or not scheduled",
        "kubectl get deploy,pods -l app.kubernetes.io/component=<component> in the "
        "stack's namespace; describe a Pending pod (resources, placement), and check the "
        "operator's Events on the TradingStack (ApplyFailed).",
    )


def _platform(stack: Stack, sel: str, *, any_stack: bool) -> list[_Alert]:
    """Alerts of the platform itself (not from a seed): workers down, Redis, bots.

    ``any_stack``: one rule file for every stack, so bots are covered whatever their names.
    """
    down = _Alert(
        "TradingStackWorkerDown",
        f"up{{{sel}}} == 0",
        "5m",
        "critical",
        "Prometheus cannot scrape a worker: the pod is crash-looping or its HTTP port hangs",
        "kubectl describe the pod (restarts, last state, OOMKilled) and kubectl logs "
        "--previous; a worker exits 2 naming a bad TS_* variable.",
    )
    targets = [f'component="{kind}"' for kind in enabled_workers(stack.spec)]
    bot = f'component="{names.BOT_COMPONENT}"'
    if any_stack:
        targets.append(bot)
    else:
        targets += [f'{bot},bot="{b.name}"' for b in stack.spec.bots]
    with_bots = any_stack or bool(stack.spec.bots)
    return [down, _absent(sel, targets), *_redis(sel), *(_bots(sel) if with_bots else [])]


def rules(stack: Stack, selector: str | None = None) -> list[Manifest]:
    """Alert rules for the enabled workers, plus a heartbeat alert for every pod.

    ``selector`` replaces the stack's own series matchers (``ANY_STACK`` for a rule
    file that serves every stack).
    """
    sel = selector or f'namespace="{stack.namespace}",stack="{stack.name}"'
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
    alerts += _platform(stack, sel, any_stack=selector is not None)
    return [alert.rule() for alert in alerts]
