"""The clusters cycle's shortcuts (issue #18) give the answers of the whole computation.

Shrinking only the pairs above the weight floor, linking only the symbols with a pair
at or above the threshold (by our own cut) and summing stress over the weighted pairs
only: each is checked here against the plain computation over every pair (scipy's
linkage over every symbol), on random books with a few common factors.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage  # type: ignore[import-untyped]
from scipy.spatial.distance import squareform  # type: ignore[import-untyped]

from tradingstack_workers.clusters.book import PriceBook
from tradingstack_workers.clusters.clustering import (
    RAMP_BAND,
    complete_linkage_labels,
    group,
    weight_floor,
)
from tradingstack_workers.clusters.clustering import cluster_stress as stress_by_pairs
from tradingstack_workers.clusters.correlation import FailClosed, pearson, shrunk_correlation


def book(seed: int) -> tuple[np.ndarray, list[str], float]:
    """Prices of a random book, its symbols and a threshold."""
    rng = np.random.default_rng(seed)
    n, points = int(rng.integers(2, 60)), int(rng.integers(20, 200))
    factors = rng.standard_normal((points - 1, 3))
    loadings = rng.uniform(0, 2, (3, n)) * (rng.random((3, n)) < 0.3)
    returns = (factors @ loadings + rng.standard_normal((points - 1, n))) * 0.01
    prices = 100 * np.exp(np.vstack([np.zeros(n), np.cumsum(returns, axis=0)]))
    return prices, [f"S{i}" for i in range(n)], float(rng.uniform(0.3, 0.95))


def whole_linkage(corr: np.ndarray, threshold: float) -> list[int]:
    """The one linkage over every symbol (what the cycle did before)."""
    distance = np.clip(1.0 - corr, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="complete")
    return [int(x) for x in fcluster(tree, t=1.0 - threshold, criterion="distance")]


def dense_stress(corr: np.ndarray, exposures: np.ndarray, threshold: float) -> float:
    """The module docstring's sum over every ``i != j``, written out."""
    share = exposures / np.abs(exposures).sum()
    band = min(RAMP_BAND, threshold)
    weights = np.maximum(corr, 0) * np.clip(1 + (corr - threshold) / band, 0, 1)
    np.fill_diagonal(weights, 0)
    return float((np.maximum(np.outer(share, share), 0) * weights).sum())


@pytest.mark.parametrize("seed", range(60))
def test_shrinking_above_the_floor_changes_no_entry_that_counts(seed: int) -> None:
    prices, symbols, threshold = book(seed)
    floor = weight_floor(threshold)
    every = shrunk_correlation(prices, symbols)
    some = shrunk_correlation(prices, symbols, floor=floor)
    assert not isinstance(every, FailClosed)
    assert not isinstance(some, FailClosed)
    counts = every > floor
    assert np.array_equal(counts, some > floor)
    assert np.allclose(every[counts], some[counts], rtol=0, atol=1e-12)
    assert np.array_equal(every >= threshold, some >= threshold)


@pytest.mark.parametrize("seed", range(60))
def test_linking_the_linked_symbols_finds_the_clusters_of_the_whole_linkage(seed: int) -> None:
    prices, symbols, threshold = book(seed)
    corr = shrunk_correlation(prices, symbols)
    assert not isinstance(corr, FailClosed)
    assert group(symbols, complete_linkage_labels(corr, threshold)) == group(
        symbols, whole_linkage(corr, threshold)
    )


@pytest.mark.parametrize("seed", range(60))
def test_stress_over_the_weighted_pairs_is_the_sum_over_every_pair(seed: int) -> None:
    prices, symbols, threshold = book(seed)
    corr = shrunk_correlation(prices, symbols, floor=weight_floor(threshold))
    assert not isinstance(corr, FailClosed)
    sides = np.random.default_rng(seed).choice([-1.0, 1.0], len(symbols))
    exposures = sides * np.arange(1.0, len(symbols) + 1)
    assert stress_by_pairs(corr, exposures, threshold) == pytest.approx(
        dense_stress(corr, exposures, threshold), rel=1e-12, abs=1e-15
    )


@pytest.mark.parametrize("seed", range(5))
def test_pearson_is_exactly_symmetric_even_from_a_strided_view(seed: int) -> None:
    """The linkage and the stress read one triangle: the product must be symmetric."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((80, 60))[:, ::2]  # not contiguous
    corr = pearson(z)
    assert np.array_equal(corr, corr.T)
    assert np.all(np.diag(corr) == 1.0)


@pytest.mark.parametrize("seed", range(20))
def test_unchanged_since_reads_two_columns_for_moving_symbols_and_agrees(seed: int) -> None:
    """The fast path (last two prices differ) and the search give the plain answer: the
    key after the last price change, over books with stuck and silent symbols."""
    rng = np.random.default_rng(seed)
    lookback = int(rng.integers(2, 12))
    book = PriceBook(lookback)
    histories: dict[str, list[tuple[float, float]]] = {}
    for cycle in range(int(rng.integers(1, 4 * lookback))):
        key = 1.8e9 + 60.0 * cycle
        names = [f"S{i}" for i in range(8) if rng.random() < 0.8]
        prices = rng.choice([1.0, 2.0], size=len(names))  # often equal to the last one
        book.append(names, key, prices, np.full(len(names), key))
        for name, price in zip(names, prices.tolist(), strict=True):
            histories.setdefault(name, []).append((key, price))
    plain = {}
    for name, every in histories.items():
        points = every[-lookback:]
        began = points[-1][0]
        for key, price in reversed(points):
            if price != points[-1][1]:
                break
            began = key
        plain[name] = began
    asked = [f"S{i}" for i in range(9)]
    assert book.unchanged_since(asked) == plain
