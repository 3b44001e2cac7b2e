"""Clusters by complete linkage and ClusterStress: the P2.7 decision, pure (no Redis, no clock).

Clusters: agglomerative clustering on the distance ``1 - corr`` with *complete*
linkage, cut at ``1 - threshold``. A complete-linkage merge height is the largest
distance between any two members, so every pair inside a cluster has
``corr >= threshold``. Single linkage (what "connected pairs above threshold" amounts
to) chains: A~B and B~C put A and C together even when A and C are uncorrelated.
Singletons count as clusters (``clusters_count`` is 1 when two symbols move together,
2 when they do not, as in the seeds).

ClusterStress: with signed exposures ``e_i = position_amt_i * mark_price_i``, the
gross ``G = sum_i |e_i|`` and a pair weight ``w(r)``::

    S = sum_{i != j} max(0, e_i e_j) * w(r_ij) / G**2

    w(r) = max(r, 0) * clip(1 + (r - threshold) / band, 0, 1),   band = min(0.10, threshold)

It is the share of the book's squared gross exposure (``G**2 = sum_i sum_j |e_i||e_j|``)
that sits in cross terms of same-side pairs correlated at or above the threshold,
weighted by how correlated they are. Why: a pair's joint P&L swing scales with
``e_i e_j r_ij`` (the cross term of the portfolio variance), so large positions that
move together dominate. Properties (each a hypothesis test in
``tests/unit/test_clusters_properties.py``):

* **Bounded**: ``w`` is in [0, 1], so ``0 <= S <= 1 - sum_i e_i**2 / G**2 < 1``: one
  position alone scores 0, n equal positions all correlated at ``r`` (one side) score
  ``r (1 - 1/n)``; two equal positions at ``r`` score ``r / 2``.
* **Monotone in every correlation**: ``w`` is non-decreasing in ``r`` and each term's
  coefficient ``max(0, e_i e_j)`` is non-negative, so raising any ``r_ij`` never lowers
  ``S``. The sum runs over *pairs*, not over a partition into clusters: in the
  complete-linkage partition a symbol belongs to one cluster only, so raising one
  correlation could move it away from its biggest correlated partner and cut the
  stress tenfold (review D2). Complete linkage still gives ``clusters_count`` and the
  audit's cluster lists.
* **Continuous**: in the exposures (the denominator includes every position's own
  term, so a 1 USD position adds about nothing; with the old denominator
  ``sum_{i != j} |e_i||e_j|`` a 1e9 USD position scored 0 alone and 0.9 with 1 USD
  beside it, review D3) and in the correlations (the ramp over ``band`` below the
  threshold replaces the step at it; pairs at or above the threshold count in full,
  as the seed's clusters did).
* **Hedges**: a long and a short pair contributes nothing (``max(0, e_i e_j)``): a
  balanced hedge scores 0, and a higher correlation inside a hedge never raises ``S``.
  They do not offset other pairs' stress either: offsetting made ``S`` fall as a
  hedged correlation rose, which monotonicity forbids.

Calibration change from the seeds (documented in the README's risk section): the
seeds' ``cluster_stress`` 0.788 for BTC and ETH was the old formula's ``r`` for two
positions; the same book now scores about 0.39 (``r / 2`` for equal sizes). The gate
recomputes nothing from it; it uses the published value as K when it covers the book.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .book import PriceBook
from .correlation import FailClosed, Matrix, shrunk_correlation
from .linkage import complete_linkage_cut

#: Width of the ramp below the threshold over which a pair's weight rises from 0 to r.
RAMP_BAND = 0.10


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

    @property
    def correlated(self) -> bool:
        """True when a correlation matrix was computed: two or more symbols held. With
        fewer the stress is 0 by definition, not from data (``p27_corr_ready`` 0)."""
        return len(self.symbols) >= 2


def _pairs(mask: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Rows and columns ``i < j`` where ``mask`` holds (a flat search: a large book's
    matrix is mostly False, and ``np.nonzero`` in two dimensions costs ten times more)."""
    i, j = np.divmod(np.flatnonzero(mask), mask.shape[1])
    upper = i < j
    return i[upper], j[upper]


def complete_linkage_labels(corr: Matrix, threshold: float) -> list[int]:
    """Cluster label of each column, every pair inside a cluster at ``corr >= threshold``.

    Complete linkage on ``1 - corr`` cut at ``1 - threshold`` (:mod:`.linkage`), run on
    the symbols with some pair at or above the threshold only: the others are
    singletons whatever happens (most symbols of a large book).
    """
    n = corr.shape[0]
    # A hair below the threshold, so that rounding in ``1 - corr`` cannot hide a pair
    # the cut would join; the cut itself decides on the distances.
    i, j = _pairs(corr >= threshold - 1e-9)
    labels = np.arange(n)
    linked = np.unique(np.concatenate([i, j]))
    if len(linked):
        distance = np.clip(1.0 - corr[np.ix_(linked, linked)], 0.0, 2.0)
        labels[linked] = linked[complete_linkage_cut(distance, 1.0 - threshold)]
    return [int(label) for label in labels]


def group(symbols: Sequence[str], labels: Sequence[int]) -> tuple[tuple[str, ...], ...]:
    """Clusters as sorted symbol tuples, largest first, for stable output."""
    members: dict[int, list[str]] = {}
    for symbol, label in zip(symbols, labels, strict=True):
        members.setdefault(label, []).append(symbol)
    return tuple(sorted((tuple(sorted(m)) for m in members.values()), key=lambda c: (-len(c), c)))


def weight_floor(threshold: float) -> float:
    """The correlation at or below which a pair weighs nothing: ``threshold - band``."""
    return threshold - min(RAMP_BAND, threshold)


def pair_weights(corr: Matrix, threshold: float) -> Matrix:
    """``w(r)`` of each correlation (see the module doc), element by element."""
    band = min(RAMP_BAND, threshold)
    ramp = np.clip(1.0 + (corr - threshold) / band, 0.0, 1.0)  # exactly 1 from the threshold
    weights: Matrix = np.maximum(corr, 0.0) * ramp
    return weights


def cluster_stress(corr: Matrix, exposures: Matrix, threshold: float) -> float:
    """ClusterStress as defined in the module docstring; always in [0, 1).

    Summed over the pairs above :func:`weight_floor` only (every other pair weighs 0),
    each once and doubled: the sum over ``i != j`` counts each pair twice.
    """
    gross = float(np.abs(exposures).sum())
    if not gross > 0:
        return 0.0
    share = exposures / gross  # scale first: no overflow for books of any size
    i, j = _pairs(corr > weight_floor(threshold))
    same_side = np.maximum(share[i] * share[j], 0.0)
    value = 2.0 * float((same_side * pair_weights(corr[i, j], threshold)).sum())
    return min(1.0, max(0.0, value))


def compute(
    book: PriceBook,
    exposures: Mapping[str, float],
    params: Params,
) -> ClusterState | FailClosed:
    """Cluster the symbols holding a position and score the book's ClusterStress."""
    symbols = tuple(sorted(s for s, e in exposures.items() if e != 0))
    if len(symbols) < 2:
        return ClusterState(symbols, tuple((s,) for s in symbols), 0.0, 0, np.eye(len(symbols)))
    prices = book.aligned_prices(symbols, lookback=params.lookback, min_points=params.min_points)
    if isinstance(prices, FailClosed):
        return prices
    # Below the weight floor a pair neither clusters nor weighs: no need to shrink it.
    corr = shrunk_correlation(prices, symbols, floor=weight_floor(params.threshold))
    if isinstance(corr, FailClosed):
        return corr
    labels = complete_linkage_labels(corr, params.threshold)
    weights = np.array([exposures[s] for s in symbols], dtype=np.float64)
    return ClusterState(
        symbols=symbols,
        clusters=group(symbols, labels),
        stress=cluster_stress(corr, weights, params.threshold),
        points=len(prices),
        correlation=corr,
    )
