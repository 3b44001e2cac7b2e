"""The clusters worker's metrics. Names are the seeds' (000, 001) and are defined here only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

CORR_READY = "p27_corr_ready"
SYMBOLS_IN_MATRIX = "p27_symbols_in_matrix"
CLUSTERS_COUNT = "p27_clusters_count"
CLUSTER_STRESS_SUM = "p27_cluster_stress_sum"
UPDATES = "p27_updates"  # exported as p27_updates_total
FAIL_CLOSED = "p27_fail_closed"  # exported as p27_fail_closed_total{reason}
POINTS_PER_SYMBOL = "p27_points_per_symbol"
MIN_POINTS_PER_SYMBOL = "p27_min_points_per_symbol"
SNAPSHOTS_SKIPPED = "p27_snapshots_skipped"  # exported as p27_snapshots_skipped_total{reason}
FROZEN_SYMBOL = "p27_frozen_symbol"  # 1 per symbol whose feed is frozen (left out)

#: Every series name as Prometheus shows it, for dashboards, alerts and tests.
EXPORTED = (
    CORR_READY,
    SYMBOLS_IN_MATRIX,
    CLUSTERS_COUNT,
    CLUSTER_STRESS_SUM,
    f"{UPDATES}_total",
    f"{FAIL_CLOSED}_total",
    POINTS_PER_SYMBOL,
    MIN_POINTS_PER_SYMBOL,
    f"{SNAPSHOTS_SKIPPED}_total",
    FROZEN_SYMBOL,
)


@dataclass
class ClustersMetrics:
    corr_ready: Gauge
    symbols_in_matrix: Gauge
    clusters_count: Gauge
    cluster_stress: Gauge
    updates: Counter
    fail_closed: Counter
    points_per_symbol: Gauge
    min_points_per_symbol: Gauge
    snapshots_skipped: Counter
    frozen_symbol: Gauge
    _labelled: dict[str, int] = field(default_factory=dict)
    _frozen: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ClustersMetrics:
        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, labelnames=labels, registry=registry)

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, labelnames=labels, registry=registry)

        return cls(
            corr_ready=gauge(CORR_READY, "1 when the last cycle computed a correlation matrix"),
            symbols_in_matrix=gauge(
                SYMBOLS_IN_MATRIX, "Symbols holding a position: what the matrix is over"
            ),
            clusters_count=gauge(CLUSTERS_COUNT, "Clusters (singletons included)"),
            cluster_stress=gauge(CLUSTER_STRESS_SUM, "ClusterStress of the book, in [0, 1]"),
            updates=counter(UPDATES, "Cluster states written"),
            fail_closed=counter(FAIL_CLOSED, "Cycles that wrote nothing, by reason", "reason"),
            points_per_symbol=gauge(POINTS_PER_SYMBOL, "Price points held", "symbol"),
            min_points_per_symbol=gauge(MIN_POINTS_PER_SYMBOL, "Fewest points of a symbol"),
            snapshots_skipped=counter(
                SNAPSHOTS_SKIPPED, "Malformed snapshots skipped, by reason", "reason"
            ),
            frozen_symbol=gauge(
                FROZEN_SYMBOL, "1 while the symbol's price has stopped changing", "symbol"
            ),
        )

    def set_points(self, tracked: Iterable[str], points: Mapping[str, int]) -> None:
        """Points per tracked symbol; series of symbols no longer tracked are removed.
        Only changed series are written (a book of 1000 full histories changes none)."""
        counts = {s: points.get(s, 0) for s in tracked}
        for gone in self._labelled.keys() - counts.keys():
            self.points_per_symbol.remove(gone)
        for symbol, count in counts.items():
            if self._labelled.get(symbol) != count:
                self.points_per_symbol.labels(symbol=symbol).set(count)
        self._labelled = counts
        self.min_points_per_symbol.set(min(counts.values(), default=0))

    def set_frozen(self, frozen: Iterable[str]) -> None:
        """One series per frozen symbol; a symbol whose feed resumed loses its series."""
        now = set(frozen)
        for gone in self._frozen - now:
            self.frozen_symbol.remove(gone)
        for symbol in now:
            self.frozen_symbol.labels(symbol=symbol).set(1)
        self._frozen = now
