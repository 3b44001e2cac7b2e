"""Clusters by complete linkage and ClusterStress: the P2.7 decision, pure (no Redis, no clock).

Clusters: agglomerative clustering on the distance ``1 - corr`` with *complete*
linkage, cut at ``1 - threshold``. A complete-linkage merge height is the largest
distance between any two members, so every pair inside a cluster has
``corr >= threshold``. Single linkage (what "connected pairs above threshold" amounts
to) chains: A~B and B~C put A and C together even when A and C are uncorrelated.
Singletons count as clusters (``clusters_count`` is 1 when two symbols move together,
2 when they do not, as in the seeds).

ClusterStress: with signed exposures ``e_i = position_amt_i * mark_price_i``::

    S = max(0, sum_{i != j, same cluster} e_i e_j r_ij) / sum_{i != j} |e_i| |e_j|

It is the share of the book's pairwise exposure that sits in pairs correlated at or
above the threshold, weighted by how correlated they are. Why: a pair's joint P&L
swing scales with ``e_i e_j r_ij`` (the cross term of the portfolio variance), so
large positions in one cluster dominate; pairs in different clusters count in the
denominator only, so a book spread across uncorrelated symbols scores low. A long
and a short in the same cluster offset (a hedge, not a concentration). Bounds: inside
a cluster ``0 < threshold <= r_ij <= 1``, so the numerator is at most the sum of
``|e_i||e_j|`` over same-cluster pairs, itself at most the denominator: ``S`` is in
[0, 1], and 1 only when the whole book is one perfectly correlated cluster, all on
one side. Two positions of equal size in one cluster give ``S = r`` (the seeds' 0.788
for BTC and ETH). Fewer than two positions have no pair: ``S = 0``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage  # type: ignore[import-untyped]
from scipy.spatial.distance import squareform  # type: ignore[import-untyped]

from .correlation import (
    FailClosed,
    Matrix,
    PricePoint,
    aligned_prices,
    shrunk_correlation,
)


@dataclass(frozen=True)
class Params:
    threshold: float
    lookback: int
    min_points: int


@dataclass(frozen=True)
class ClusterState:
    """One cycle's result: what cluster_state and the audit stream receive."""

    symbols: tuple[str, ...]
    clusters: tuple[tuple[str, ...], ...]
    stress: float
    points: int
    correlation: Matrix

    @property
    def clusters_count(self) -> int:
        return len(self.clusters)


def complete_linkage_labels(corr: Matrix, threshold: float) -> list[int]:
    """Cluster label of each column, every pair inside a cluster at ``corr >= threshold``."""
    n = corr.shape[0]
    if n < 2:
        return [0] * n
    distance = np.clip(1.0 - corr, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="complete")
    labels = fcluster(tree, t=1.0 - threshold, criterion="distance")
    return [int(label) for label in labels]


def group(symbols: Sequence[str], labels: Sequence[int]) -> tuple[tuple[str, ...], ...]:
    """Clusters as sorted symbol tuples, largest first, for stable output."""
    members: dict[int, list[str]] = {}
    for symbol, label in zip(symbols, labels, strict=True):
        members.setdefault(label, []).append(symbol)
    return tuple(sorted((tuple(sorted(m)) for m in members.values()), key=lambda c: (-len(c), c)))


def cluster_stress(corr: Matrix, labels: Sequence[int], exposures: Matrix) -> float:
    """ClusterStress as defined in the module docstring; always in [0, 1]."""
    size = np.abs(exposures)
    total = float(size.sum() ** 2 - (size**2).sum())
    if total <= 0:
        return 0.0
    tags = np.asarray(labels)
    same = tags[:, None] == tags[None, :]
    np.fill_diagonal(same, False)
    clustered = float((np.outer(exposures, exposures) * corr)[same].sum())
    return min(1.0, max(0.0, clustered / total))


def compute(
    histories: Mapping[str, Sequence[PricePoint]],
    exposures: Mapping[str, float],
    params: Params,
) -> ClusterState | FailClosed:
    """Cluster the symbols holding a position and score the book's ClusterStress."""
    symbols = tuple(sorted(s for s, e in exposures.items() if e != 0))
    if len(symbols) < 2:
        return ClusterState(symbols, tuple((s,) for s in symbols), 0.0, 0, np.eye(len(symbols)))
    prices = aligned_prices(
        histories, symbols, lookback=params.lookback, min_points=params.min_points
    )
    if isinstance(prices, FailClosed):
        return prices
    corr = shrunk_correlation(prices, symbols)
    if isinstance(corr, FailClosed):
        return corr
    labels = complete_linkage_labels(corr, params.threshold)
    weights = np.array([exposures[s] for s in symbols], dtype=np.float64)
    return ClusterState(
        symbols=symbols,
        clusters=group(symbols, labels),
        stress=cluster_stress(corr, labels, weights),
        points=len(prices),
        correlation=corr,
    )
