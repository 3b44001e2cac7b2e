"""The gate's metrics. Names are the seeds' (``p26_*``) and are defined here only.

Alert rules and dashboards read :data:`NAMES`. Notes on the seeds' expressions:

* ``p26_cluster_stress_used`` stays a gauge (1 cluster, 0 proxy, for the last
  decision) as the seeds read it. Their ``increase(p26_cluster_stress_used[10m])``
  is meaningless on a gauge; ``p26_k_source_total{source="cluster"}`` is the
  counter that check wants.
* ``p26_snapshot_age_seconds{symbol}`` is per symbol, so ``max(...) < 300`` keeps
  its meaning; a symbol whose snapshot disappears loses its series (a stale series
  would keep the alert firing for a position that no longer exists). Its values are
  the last read's, handed over whole and exported when scraped (:class:`SnapshotAges`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .batch import Tally

CLUSTER_STRESS_USED = "p26_cluster_stress_used"
CLUSTER_FALLBACK = "p26_cluster_fallback"  # exported as ..._total
K_SOURCE = "p26_k_source"  # exported as ..._total
SNAPSHOT_AGE = "p26_snapshot_age_seconds"
SNAPSHOT_MALFORMED = "p26_snapshot_malformed"  # exported as ..._total
INPUT_MALFORMED = "p26_input_malformed"  # exported as ..._total{input, field}
PERMITS_ISSUED = "p26_permits_issued"  # exported as ..._total
PERMITS_DENIED = "p26_permits_denied"  # exported as ..._total
PROPOSALS = "p26_proposals_processed"  # exported as ..._total
BAD_PROPOSALS = "p26_proposals_malformed"  # exported as ..._total
DEAD_LETTERED = "p26_dead_lettered"  # exported as ..._total
DECISION_LATENCY = "p26_decision_latency_seconds"
PORTFOLIO_HEAT = "p26_portfolio_heat"
LAST_STRESS = "p26_stress"
RESERVATION_CONFLICTS = "p26_reservation_conflicts"  # exported as ..._total

NAMES = (
    CLUSTER_STRESS_USED,
    CLUSTER_FALLBACK + "_total",
    K_SOURCE + "_total",
    SNAPSHOT_AGE,
    SNAPSHOT_MALFORMED + "_total",
    INPUT_MALFORMED + "_total",
    PERMITS_ISSUED + "_total",
    PERMITS_DENIED + "_total",
    PROPOSALS + "_total",
    BAD_PROPOSALS + "_total",
    DEAD_LETTERED + "_total",
    DECISION_LATENCY,
    PORTFOLIO_HEAT,
    LAST_STRESS,
    RESERVATION_CONFLICTS + "_total",
)

FALLBACK_REASONS = ("missing", "stale", "future", "invalid", "uncovered", "degraded")
DENIAL_REASONS = (
    "proposal_expired",
    "equity_unknown",
    "portfolio_stale",
    "snapshot_malformed",
    "heat_limit",
    "stress_limit",
)
_LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class SnapshotAges(Collector):
    """``p26_snapshot_age_seconds{symbol}``: each position snapshot's age (seconds) at
    the last read of the book, exported as read when scraped. A batch hands over the read's
    ages whole (:attr:`ages`) instead of setting a labelled gauge per symbol: with 20
    symbols, those label lookups and sets were 3 % of the gate's busy time in py-spy of
    bench/gate_throughput's paced run, and 7 % of a batch of one in cProfile, for values
    scraped every 15-30 s."""

    def __init__(self) -> None:
        self.ages: Mapping[str, float] = {}

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield self._family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        for symbol, age in sorted(self.ages.items()):
            family.add_metric([symbol], age)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            SNAPSHOT_AGE, "Age of each position snapshot at the last read", labels=["symbol"]
        )


@dataclass(frozen=True)
class GateMetrics:
    cluster_stress_used: Gauge
    cluster_fallback: Counter
    k_source: Counter
    snapshot_age: SnapshotAges
    snapshot_malformed: Counter
    input_malformed: Counter
    permits_issued: Counter
    permits_denied: Counter
    proposals: Counter
    bad_proposals: Counter
    dead_lettered: Counter
    decision_latency: Histogram
    portfolio_heat: Gauge
    stress: Gauge
    reservation_conflicts: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> GateMetrics:
        m = cls(
            cluster_stress_used=Gauge(
                CLUSTER_STRESS_USED, "1 when the last decision used cluster stress, 0 proxy",
                registry=registry,
            ),
            cluster_fallback=Counter(
                CLUSTER_FALLBACK, "Decisions that fell back to the correlation proxy, by why",
                ["reason"], registry=registry,
            ),
            k_source=Counter(K_SOURCE, "Decisions by source of K", ["source"], registry=registry),
            snapshot_age=SnapshotAges(),
            snapshot_malformed=Counter(
                SNAPSHOT_MALFORMED, "Position snapshots skipped for a bad field", ["field"],
                registry=registry,
            ),
            input_malformed=Counter(
                INPUT_MALFORMED, "Portfolio or cluster state unusable for a bad field",
                ["input", "field"], registry=registry,
            ),
            permits_issued=Counter(
                PERMITS_ISSUED, "Permits granted, by reason", ["reason"], registry=registry
            ),
            permits_denied=Counter(
                PERMITS_DENIED, "Permits denied, by reason", ["reason"], registry=registry
            ),
            proposals=Counter(PROPOSALS, "Proposals decided", registry=registry),
            bad_proposals=Counter(
                BAD_PROPOSALS, "Proposals dead-lettered for a bad field", ["field"],
                registry=registry,
            ),
            dead_lettered=Counter(
                DEAD_LETTERED, "Stream entries sent to the dead-letter stream, by cause",
                ["cause"], registry=registry,
            ),
            decision_latency=Histogram(
                DECISION_LATENCY,
                "Batch read to its decisions written (the book comes with the batch's read)",
                registry=registry, buckets=_LATENCY_BUCKETS,
            ),
            portfolio_heat=Gauge(PORTFOLIO_HEAT, "Heat of the book, last read", registry=registry),
            stress=Gauge(LAST_STRESS, "Stress of the last decision", registry=registry),
            reservation_conflicts=Counter(
                RESERVATION_CONFLICTS,
                "Batches judged again because other replicas granted past their headroom",
                registry=registry,
            ),
        )  # fmt: skip
        registry.register(m.snapshot_age)
        # Series exist from the start, so increase() reads 0 rather than nothing.
        for reason in FALLBACK_REASONS:
            m.cluster_fallback.labels(reason=reason)
        for source in ("cluster", "proxy"):
            m.k_source.labels(source=source)
        for reason in ("ok", "reducing"):
            m.permits_issued.labels(reason=reason)
        for reason in DENIAL_REASONS:
            m.permits_denied.labels(reason=reason)
        for cause in ("permanent", "failed", "redelivered"):
            m.dead_lettered.labels(cause=cause)
        return m

    def record(self, tally: Tally, seconds: float) -> None:
        """A batch's decisions, each ``seconds`` after the batch was read: one update
        per label the batch touched, the latency observed once per proposal."""
        self.proposals.inc(tally.proposals)
        observe = self.decision_latency.observe
        for _ in range(tally.proposals):
            observe(seconds)
        for source, n in tally.k_sources.items():
            self.k_source.labels(source=source).inc(n)
        for reason, n in tally.k_fallbacks.items():
            self.cluster_fallback.labels(reason=reason).inc(n)
        for (granted, reason), n in tally.outcomes.items():
            counter = self.permits_issued if granted else self.permits_denied
            counter.labels(reason=reason).inc(n)
        last = tally.last
        self.cluster_stress_used.set(1.0 if last.k_source == "cluster" else 0.0)
        self.stress.set(last.stress)

    def snapshot_ages(self, ages: Mapping[str, float]) -> None:
        """The last read's snapshot ages (seconds, by symbol); a symbol not among them
        has no series."""
        self.snapshot_age.ages = ages
