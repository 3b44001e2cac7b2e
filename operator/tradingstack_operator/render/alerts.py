"""Alert rules: the seeds' "live health" checks, scoped to one stack's targets.

Expressions keep the seeds' metric names (seed 000/001 for P2.7 and P2.6, seed 002 for
P2.8, seed 003 for P3.5) so the desk's existing dashboards and habits still apply. The
``stack`` and ``namespace`` labels come from the monitors' relabelling (see
monitoring.py); every aggregation keeps them (``by (namespace, stack)``), or the alert
could not say which stack it is about.

Rules that count a worker's cycles read their window from the spec: at the slowest
interval the CRD allows (clusters 3599 s, governor 300 s) a fixed 10-minute window holds
no cycle at all, and a rate over it is 0 on a healthy worker (or never above a
threshold on a failing one). ``tests/unit/test_seed_alerts_promtool.py`` runs each of
these rules through promtool at those intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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


def _duration(seconds: float) -> str:
    """A Prometheus duration: whole minutes when they fit, else seconds."""
    whole = math.ceil(seconds)
    return f"{whole // 60}m" if whole % 60 == 0 else f"{whole}s"


def _cycles_seconds(interval_seconds: float, floor_seconds: float = 600) -> float:
    return max(floor_seconds, 3 * interval_seconds)


def cycles_window(interval_seconds: float, floor_seconds: float = 600) -> str:
    """A window holding at least three of a worker's cycles, and never under the seed's 10m."""
    return _duration(_cycles_seconds(interval_seconds, floor_seconds))


def persisting(interval_seconds: float) -> tuple[str, str]:
    """(window, for) of a rule on ``increase(counter[window]) > 0`` that fires only when the
    counter keeps rising: one burst holds the expression true for one window, so ``for``
    is five minutes longer than it (a producer broken for good fires, one bad write not)."""
    window = _cycles_seconds(interval_seconds)
    return _duration(window), _duration(window + 300)


def _clusters(sel: str, threshold: float, interval_seconds: int) -> list[_Alert]:
    needed = min_points(threshold)
    # Seed 000's "== 0 for 15 minutes" outlasted its 11-point warm-up at 60 s; the
    # warm-up here is ``needed`` points at this interval (20 at 0.70: 20 minutes).
    warm_up = _duration(max(900, (needed + 2) * interval_seconds))
    skipped_window, skipped_for = persisting(interval_seconds)
    return [
        _Alert(
            "TradingStackClustersStale",
            f"rate(p27_updates_total{{{sel}}}[{cycles_window(interval_seconds)}]) == 0",
            "5m",
            "critical",
            "P2.7 clusters stopped updating the cluster state; the gate falls back to proxy",
            "kubectl logs the clusters pod; check Redis reachability (/readyz) and that "
            "position snapshots are written (HGETALL <prefix>:position:snapshot:<SYMBOL>).",
        ),
        _Alert(
            "TradingStackCorrelationNotReady",
            # Only for a book of two or more symbols: with fewer there is nothing to
            # correlate (corr_ready 0, stress 0 by definition), which is no data problem.
            f"p27_corr_ready{{{sel}}} == 0 and p27_symbols_in_matrix{{{sel}}} >= 2",
            warm_up,
            "warning",
            "P2.7 has had too few price points to correlate the book for longer than its warm-up",
            f"Check p27_points_per_symbol: each symbol needs {needed} points at threshold "
            f"{threshold:g}; symbols without a position produce no snapshots.",
        ),
        _Alert(
            "TradingStackFeedFrozen",
            f"max by (namespace, stack, symbol) (p27_frozen_symbol{{{sel}}}) == 1",
            "5m",
            "warning",
            "A symbol's price has stopped changing; P2.7 leaves it out and the gate uses "
            "its proxy for books that hold it",
            "The symbol label names it: check the active bot's market data for that symbol "
            "(tradingstack_bot_market_data_age_seconds) and HGETALL "
            "<prefix>:position:snapshot:<SYMBOL> (ts_epoch and mark_price not moving).",
        ),
        _Alert(
            "TradingStackSnapshotsMalformed",
            f"sum by (namespace, stack, reason) (increase(p27_snapshots_skipped_total{{{sel}}}"
            f"[{skipped_window}])) > 0",
            skipped_for,
            "warning",
            "P2.7 keeps skipping position snapshots that break their contract; their "
            "symbols drop out of the correlation",
            f"{_TIMESTAMPS} HGETALL <prefix>:position:snapshot:<SYMBOL> for each symbol; the "
            "clusters pod logs 'snapshot skipped' with the field and the problem.",
        ),
    ]


def _gate_with_clusters(sel: str) -> list[_Alert]:
    """Rules that read the gate's use of cluster stress: only when clusters runs."""
    by = "sum by (namespace, stack)"
    return [
        _Alert(
            "TradingStackGateClusterStressUnused",
            # Seed 000's check 4: no cluster K in 10 minutes while proposals are decided.
            # p26_cluster_stress_used is a gauge (its increase() means nothing); the
            # counter p26_k_source_total{source="cluster"} is what the check wants.
            f'{by} (increase(p26_k_source_total{{{sel},source="cluster"}}[10m])) == 0 '
            f"and {by} (increase(p26_proposals_processed_total{{{sel}}}[10m])) > 0",
            "15m",
            "warning",
            "P2.6 decides proposals without ever using P2.7's cluster stress",
            "The integration is broken: check that the clusters worker updates "
            "<prefix>:portfolio:cluster_state (p27_updates_total, p27_corr_ready) and that "
            "its symbols cover the book (the gate logs k_fallback).",
        ),
        _Alert(
            "TradingStackGateFallingBack",
            f"increase(p26_cluster_fallback_total{{{sel}}}[30m]) > 0",
            "30m",
            "warning",
            "P2.6 gate keeps falling back to proxy correlation",
            "The cluster state is stale or missing: check the clusters worker and "
            "HGETALL <prefix>:portfolio:cluster_state (updated_ts older than 120 s is stale).",
        ),
    ]


_TIMESTAMPS = (
    "The reason or field label names the fault: wrong_unit or in_future (a timestamp in "
    "milliseconds, or more than 5 s ahead of the reader's clock) means the producer does "
    "not write epoch seconds or its clock is wrong."
)


def _gate(sel: str) -> list[_Alert]:
    by = "sum by (namespace, stack, field)"
    # The gate reads its inputs at least every 10 s (heat is republished without proposals).
    window, persist = persisting(0)
    return [
        _Alert(
            "TradingStackGateInputsMalformed",
            # Each is refused rather than trusted (review D5): a proposal is dead-lettered, a
            # portfolio state is no equity (equity_unknown), a snapshot denies new risk.
            f"{by} (increase(p26_proposals_malformed_total{{{sel}}}[{window}])) > 0"
            f" or {by} (increase(p26_snapshot_malformed_total{{{sel}}}[{window}])) > 0"
            f" or sum by (namespace, stack, input, field)"
            f" (increase(p26_input_malformed_total{{{sel}}}[{window}])) > 0",
            persist,
            "critical",
            "P2.6 keeps refusing proposals, snapshots or the portfolio or cluster state that "
            "break their contract: new risk is denied",
            f"{_TIMESTAMPS} The gate pods log the field and the problem; dead-lettered "
            "proposals are in <prefix>:stream:trade.proposal:dead.",
        ),
        _Alert(
            "TradingStackSnapshotsStale",
            f"max by (namespace, stack) (p26_snapshot_age_seconds{{{sel}}}) > 300",
            "5m",
            "warning",
            "Position snapshots are older than 5 minutes",
            "The bots write snapshots: check the active bot's logs and its Lease holder.",
        ),
    ]


def _governor(sel: str, interval_seconds: int) -> list[_Alert]:
    stale = 'input_type=~"portfolio_heat|cluster_stress"'
    malformed_window, malformed_for = persisting(interval_seconds)
    return [
        _Alert(
            "TradingStackPortfolioStateTooOld",
            # Seed 002 said "p28_portfolio_too_old_total > 10/min"; the counter rises once a
            # cycle, so at an interval of 6 s or more (the CRD allows 300) it never could.
            # The gauge says the same for every interval.
            f'max by (namespace, stack) (p28_portfolio_source{{{sel},source="none"}}) == 1',
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
        _Alert(
            "TradingStackGovernorInputsStale",
            f"sum by (namespace, stack) (increase(p28_stale_input_total{{{sel},{stale}}}"
            f"[{cycles_window(interval_seconds)}])) > 0",
            "15m",
            "warning",
            "P2.8 budgets run on a held or fully-stressed heat or cluster stress",
            "A missing heat or cluster stress holds its last value for the LKG window, then "
            "counts as 1.0 (budgets shrink): check the gate (heat) and clusters workers.",
        ),
        _Alert(
            "TradingStackGovernorInputsMalformed",
            f"sum by (namespace, stack, input_type) (increase(p28_malformed_input_total{{{sel}}}"
            f"[{malformed_window}])) > 0",
            malformed_for,
            "warning",
            "P2.8 keeps reading inputs that break their contract (treated as missing)",
            f"{_TIMESTAMPS} The input_type label names the hash; the governor pod logs the "
            "field and the problem.",
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


def _exchange(sel: str) -> list[_Alert]:
    """A live stack's exchanges: the account poller's drift, failing calls, rate limits."""
    by_bot = "namespace, stack, bot"
    by_endpoint = f"{by_bot}, endpoint"
    return [
        _Alert(
            "TradingStackExchangeLedgerDrift",
            f"increase({bot_metrics.DRIFT_EVENTS}_total{{{sel}}}[10m]) > 0",
            "0m",
            "critical",
            "The exchange and the ledger disagreed beyond tolerance; the ledger was corrected",
            "Read <prefix>:stream:exchange.drift:<account> (field, ledger and exchange values; "
            "field order:<id> is an open order the bot did not place, left open): "
            "an order placed outside the bot, a deposit or withdrawal, a fee paid in another "
            "asset, or an order whose outcome was recorded late. The poller has already set "
            "the ledger to the exchange's figures; find the cause before resuming trading.",
        ),
        _Alert(
            "TradingStackExchangeErrors",
            f"sum by ({by_endpoint}) "
            f"(rate({bot_metrics.REQUEST_ERRORS}_total{{{sel}}}[5m])) > 0.05",
            "5m",
            "warning",
            "Requests to the exchange keep failing",
            "The error label is ccxt's exception class: AuthenticationError (key revoked or "
            "IP not allowed), ExchangeNotAvailable or RequestTimeout (the exchange is down "
            "or slow), InsufficientFunds (orders larger than the account). kubectl logs the "
            "bot for the order ids.",
        ),
        _Alert(
            "TradingStackExchangeRateLimited",
            f"increase({bot_metrics.BACKOFFS}_total{{{sel}}}[10m]) > 5",
            "5m",
            "warning",
            "The exchange keeps answering 429/418: the bot is pausing its requests",
            "Lower the bot's request rate (fewer symbols, longer feed.intervalSeconds or "
            "exchange.pollSeconds); another program using the same key or IP also counts "
            "against the exchange's limits. A 418 is an IP ban that grows if ignored.",
        ),
        _Alert(
            "TradingStackExchangeKeyCanMoveFunds",
            f"max by ({by_bot}) ({bot_metrics.KEY_PERMISSION}"
            f'{{{sel},permission=~"withdraw|transfer"}}) > 0',
            "0m",
            "critical",
            "The bot's exchange key can withdraw or transfer funds",
            "A key that can withdraw is refused: the bot does not start trading. One that can "
            "transfer between accounts trades. Either way, replace the key in the bot's "
            "exchange.credentialsSecret with one that has trading permission only (and an "
            "IP restriction), then revoke the old key.",
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


#: What the Redis pods' redis_exporter sidecar exports and the alerts read (INFO fields:
#: used_memory, maxmemory, aof_last_write_status, ...). The pod tier runs the rendered
#: exporter version against real Redis pods and finds each of these in its scrape
#: (tests/pods/test_exporter.py).
EXPORTER_METRICS = frozenset({
    "redis_up", "redis_instance_info", "redis_master_link_up", "redis_memory_used_bytes",
    "redis_memory_max_bytes", "redis_aof_last_write_status", "redis_aof_last_bgrewrite_status",
})  # fmt: skip


def redis_alerts(sel: str) -> list[_Alert]:
    """From the Redis pods' exporter sidecars (:data:`EXPORTER_METRICS`)."""
    masters = f'count by (namespace, stack) (redis_instance_info{{{sel},role="master"}})'
    return [
        _Alert(
            "TradingStackRedisNoMasterRole",
            f"count by (namespace, stack) (redis_up{{{sel}}} == 1) unless on (namespace, stack)"
            f" {masters}",
            "1m",
            "critical",
            "Redis pods answer but none is master: every write fails",
            "kubectl exec a Redis pod -c sentinel -- redis-cli -p 26379 SENTINEL MASTER "
            "mymaster (with REDISCLI_AUTH); check the stack's RedisReady condition and the "
            "sentinels' logs for a failover that cannot find a good replica.",
        ),
        _Alert(
            "TradingStackRedisTwoMasters",
            f"{masters} > 1",
            "1m",
            "critical",
            "More than one Redis pod reports role master (split brain)",
            "The stack's RedisReady condition (reason SplitBrain) names the pods; the one "
            "the sentinels do not name must be demoted: writes it takes are lost.",
        ),
        _Alert(
            "TradingStackRedisReplicaLinkDown",
            f"redis_master_link_up{{{sel}}} == 0",
            "2m",
            "warning",
            "A Redis replica has lost its link to the master",
            "kubectl logs the replica's redis container; a replica that cannot sync leaves "
            "the master without a failover candidate.",
        ),
        _Alert(
            "TradingStackRedisMemoryHigh",
            f"redis_memory_used_bytes{{{sel}}} / (redis_memory_max_bytes{{{sel}}} > 0) > 0.9",
            "5m",
            "warning",
            "Redis uses over 90% of maxmemory; at 100% every write is refused (noeviction)",
            "Raise spec.redis.resources.limits.memory (maxmemory follows it) or trim the "
            "streams; nothing is evicted by design.",
        ),
        _Alert(
            "TradingStackRedisAofErrors",
            f"redis_aof_last_write_status{{{sel}}} == 0"
            f" or redis_aof_last_bgrewrite_status{{{sel}}} == 0",
            "1m",
            "critical",
            "Redis cannot write or rewrite its append-only file",
            "Check the data volume (full disk, read-only filesystem) of the pod in the alert; "
            "a master that cannot persist refuses writes.",
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
    exporters = any_stack or stack.spec.redis.metrics.enabled
    return [down, _absent(sel, targets), *_redis(sel), *(redis_alerts(sel) if exporters else []),
            *(_bots(sel) if with_bots else [])]  # fmt: skip


def _share(kind: str, sel: str) -> str:
    """The share of one decision among all of the stack's decisions over 5 minutes."""
    rate = "sum by (namespace, stack) (rate(p35_decisions_total{{{}}}[5m]))"
    one = sel + f',decision="{kind}"'
    return f"{rate.format(one)} / {rate.format(sel)}"


def _intel(sel: str, medium_pct: int, high_pct: int) -> list[_Alert]:
    """Seed 003's decision-distribution alerts (HIGH -> critical, MEDIUM -> warning)."""
    runbook = "Run `tradingstack intel report a` (why are we not trading) and report c (gates)."
    share = "max by (namespace, stack) (p35_top_reason_share{{{}}}) > {:g}"
    by = "sum by (namespace, stack)"
    return [
        _Alert("TradingStackExecuteRateLow", f"{_share('EXECUTE', sel)} < 0.20", "15m",
               "critical", "Under 20 % of decisions executed for 15 minutes", runbook),
        _Alert("TradingStackSkipRateHigh", f"{_share('SKIP', sel)} > 0.70", "15m",
               "warning", "Over 70 % of decisions skipped for 15 minutes", runbook),
        _Alert("TradingStackBlockedRateHigh", f"{_share('BLOCKED', sel)} > 0.40", "15m",
               "critical", "Over 40 % of decisions blocked for 15 minutes", runbook),
        _Alert("TradingStackGateDominant", share.format(sel, medium_pct / 100), "5m",
               "warning", f"One gate holds over {medium_pct} % of recent decisions",
               "Report c names the gate; docs of the action mapping: report d."),
        _Alert("TradingStackGateDominantHigh", share.format(sel, high_pct / 100), "5m",
               "critical", f"One gate holds over {high_pct} % of recent decisions",
               "Report c names the gate; docs of the action mapping: report d."),
        _Alert("TradingStackUnknownDecisions",
               f"{by} (rate(p35_unknown_decisions_total{{{sel}}}[15m])) / "
               f"{by} (rate(p35_processed_total{{{sel}}}[15m])) >= 0.05", "15m",
               "warning", "5 % or more of execution results carry no valid decision",
               "A writer breaks the execution-result contract: see the raw decision in "
               "<prefix>:stream:apply.result (seed 003: UNKNOWN should stay under 5 %)."),
    ]  # fmt: skip


def rules(stack: Stack, selector: str | None = None) -> list[Manifest]:
    """Alert rules for the enabled workers, plus a heartbeat alert for every pod.

    ``selector`` replaces the stack's own series matchers (``ANY_STACK`` for a rule
    file that serves every stack).
    """
    sel = selector or f'namespace="{stack.namespace}",stack="{stack.name}"'
    w = stack.spec.workers
    thresholds = w.intel.alert_thresholds
    enabled = enabled_workers(stack.spec)
    per_worker: dict[str, Callable[[], list[_Alert]]] = {
        "clusters": lambda: _clusters(
            sel, w.clusters.correlation_threshold, w.clusters.interval_seconds
        ),
        "gate": lambda: [*_gate(sel), *(_gate_with_clusters(sel) if "clusters" in enabled else [])],
        "governor": lambda: _governor(sel, w.governor.interval_seconds),
        "intel": lambda: _intel(sel, thresholds.medium, thresholds.high),
    }
    alerts = [a for kind in enabled if kind in per_worker for a in per_worker[kind]()]
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
    if stack.spec.mode == "live" and stack.spec.bots:
        alerts += _exchange(sel)
    return [alert.rule() for alert in alerts]
