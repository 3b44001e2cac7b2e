"""The operator's own metrics, served on ``TS_OPERATOR_METRICS_PORT``; names defined here only.

The chart's optional ServiceMonitor scrapes them. Counters are declared without
``_total`` (prometheus-client appends it); :data:`EXPORTED` lists the names as
Prometheus sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from .reconcile.plan import Plan

RECONCILES = "tradingstack_operator_reconciles"
RECONCILE_DURATION = "tradingstack_operator_reconcile_duration_seconds"
CHILDREN_APPLIED = "tradingstack_operator_children_applied"
CHILDREN_DELETED = "tradingstack_operator_children_deleted"

EXPORTED: tuple[str, ...] = (
    f"{RECONCILES}_total",
    RECONCILE_DURATION,
    f"{CHILDREN_APPLIED}_total",
    f"{CHILDREN_DELETED}_total",
)
RESULTS = ("ok", "error")


@dataclass(frozen=True)
class OperatorMetrics:
    registry: CollectorRegistry
    reconciles: Counter
    duration: Histogram
    applied: Counter
    deleted: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> OperatorMetrics:
        r = registry if registry is not None else CollectorRegistry()
        m = cls(
            registry=r,
            reconciles=Counter(
                RECONCILES, "Reconciliations of one stack, by result", ["result"], registry=r
            ),
            duration=Histogram(
                RECONCILE_DURATION, "Duration of one reconciliation (API calls included)",
                registry=r,
            ),
            applied=Counter(CHILDREN_APPLIED, "Children created or patched", registry=r),
            deleted=Counter(CHILDREN_DELETED, "Children deleted (no longer desired)", registry=r),
        )  # fmt: skip
        for result in RESULTS:  # series exist from the start, so rate() reads 0
            m.reconciles.labels(result=result)
        return m

    def reconciled(self, plan: Plan | None, seconds: float) -> None:
        self.reconciles.labels(result="ok").inc()
        self.duration.observe(seconds)
        if plan is not None:
            self.applied.inc(len(plan.apply))
            self.deleted.inc(len(plan.delete))

    def failed(self, seconds: float) -> None:
        self.reconciles.labels(result="error").inc()
        self.duration.observe(seconds)


def serve(metrics: OperatorMetrics, port: int, host: str = "0.0.0.0") -> tuple[WSGIServer, Thread]:
    """Serve /metrics on a daemon thread; ``server.shutdown()`` stops it."""
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    return server, thread
