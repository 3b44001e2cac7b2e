"""The intel worker's metrics: seed 003's ``p35_*`` names, defined here only.

Counters are declared without ``_total`` (prometheus-client appends it);
:data:`EXPORTED` lists the names as Prometheus sees them. Counts follow the
exactly-once commit: an entry is counted in ``p35_decisions_total`` when the
commit script counted it, never for a redelivery. Reasons are not a label (the
writers choose them: unbounded cardinality); they live in the buckets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from ..wire.result import COUNTED, UNKNOWN
from .alerts import SEVERITIES

PROCESSED = "p35_processed"
DECISIONS = "p35_decisions"
UNKNOWN_DECISIONS = "p35_unknown_decisions"
MALFORMED = "p35_malformed"
DEAD_LETTERED = "p35_dead_lettered"
ALERTS = "p35_alerts"
PENDING = "p35_pending"
LAG = "p35_lag"
TOP_SHARE = "p35_top_reason_share"

EXPORTED: tuple[str, ...] = (
    f"{PROCESSED}_total",
    f"{DECISIONS}_total",
    f"{UNKNOWN_DECISIONS}_total",
    f"{MALFORMED}_total",
    f"{DEAD_LETTERED}_total",
    f"{ALERTS}_total",
    PENDING,
    LAG,
    TOP_SHARE,
)

DEAD_CAUSES = ("permanent", "failed", "redelivered")


@dataclass(frozen=True)
class IntelMetrics:
    processed: Counter
    decisions: Counter
    unknown: Counter
    malformed: Counter
    dead_lettered: Counter
    alerts: Counter
    pending: Gauge
    lag: Gauge
    top_share: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> IntelMetrics:
        m = cls(
            processed=Counter(PROCESSED, "Execution results counted", registry=registry),
            decisions=Counter(
                DECISIONS, "Execution results counted, by decision", ["decision"],
                registry=registry,
            ),
            unknown=Counter(
                UNKNOWN_DECISIONS, "Results whose decision is outside the contract (data quality)",
                registry=registry,
            ),
            malformed=Counter(
                MALFORMED, "Results dead-lettered for a bad field", ["field"], registry=registry
            ),
            dead_lettered=Counter(
                DEAD_LETTERED, "Stream entries sent to the dead-letter stream, by cause",
                ["cause"], registry=registry,
            ),
            alerts=Counter(ALERTS, "Gate-explosion alerts raised", ["severity"], registry=registry),
            pending=Gauge(PENDING, "Entries delivered to the group, not yet acknowledged",
                          registry=registry),
            lag=Gauge(LAG, "Entries in the stream the group has not read yet", registry=registry),
            top_share=Gauge(
                TOP_SHARE, "Share of the window's decisions held by its top reason, last check",
                registry=registry,
            ),
        )  # fmt: skip
        # Series exist from the start, so increase() reads 0 rather than nothing.
        for decision in COUNTED:
            m.decisions.labels(decision=decision)
        for cause in DEAD_CAUSES:
            m.dead_lettered.labels(cause=cause)
        for level in SEVERITIES:
            m.alerts.labels(severity=level)
        return m

    def counted(self, by_decision: Mapping[str, int]) -> None:
        for decision, n in by_decision.items():
            if n:
                self.decisions.labels(decision=decision).inc(n)
                self.processed.inc(n)
        self.unknown.inc(by_decision.get(UNKNOWN, 0))
