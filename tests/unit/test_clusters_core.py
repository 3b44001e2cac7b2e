"""Clusters by complete linkage on crafted series, checked by brute force; fail-closed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage  # type: ignore[import-untyped]
from scipy.spatial.distance import squareform  # type: ignore[import-untyped]
from tests.unit.clusters_data import Points, histories, points, with_correlation

from tradingstack_workers.clusters.book import PriceBook, from_points
from tradingstack_workers.clusters.clustering import (
    ClusterState,
    Params,
    complete_linkage_labels,
    compute,
)
from tradingstack_workers.clusters.correlation import FailClosed, FailReason

PARAMS = Params(threshold=0.70, lookback=360, min_points=20)


def raw_correlation(returns: np.ndarray) -> np.ndarray:
    """Unshrunk Pearson, computed by numpy independently of the code under test."""
    return np.atleast_2d(np.corrcoef(returns, rowvar=False))


def every_pair_meets(corr: np.ndarray, labels: list[int], threshold: float) -> bool:
    """Brute force: each pair sharing a label has corr >= threshold."""
    return all(
        corr[i, j] >= threshold
        for i, j in itertools.combinations(range(len(labels)), 2)
        if labels[i] == labels[j]
    )


def connected_components(corr: np.ndarray, threshold: float) -> int:
    """Brute-force single linkage: components of the graph of pairs at >= threshold."""
    n = len(corr)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(n), 2):
        if corr[i, j] >= threshold:
            parent[root(i)] = root(j)
    return len({root(i) for i in range(n)})


def test_two_symbols_on_one_factor_cluster_and_an_independent_one_stands_alone() -> None:
    rng = np.random.default_rng(7)
    factor = rng.standard_normal(359) * 0.01
    returns = np.column_stack(
        [
            factor + rng.standard_normal(359) * 0.004,
            factor + rng.standard_normal(359) * 0.004,
            rng.standard_normal(359) * 0.01,
        ]
    )
    hist = histories(returns, ["BTC", "ETH", "XRP"])
    state = compute(hist, {"BTC": 1000.0, "ETH": 1000.0, "XRP": 1000.0}, PARAMS)
    assert isinstance(state, ClusterState)
    assert state.clusters == (("BTC", "ETH"), ("XRP",))
    assert state.clusters_count == 2
    assert state.points == 360
    raw = raw_correlation(returns)
    labels = [0, 0, 1]
    assert every_pair_meets(state.correlation, labels, 0.70)
    assert every_pair_meets(raw, labels, 0.70)
    assert raw[0, 2] < 0.70
    assert raw[1, 2] < 0.70


def test_complete_linkage_does_not_chain_where_single_linkage_would() -> None:
    # A~B and B~C at 0.85, A and C only 0.445: B sits between them.
    target = np.array([[1, 0.85, 0.445], [0.85, 1, 0.85], [0.445, 0.85, 1]])
    returns = with_correlation(target, np.random.default_rng(3), 2000)
    hist = histories(returns, ["A", "B", "C"])
    state = compute(hist, dict.fromkeys("ABC", 1.0), Params(0.70, 2001, 20))
    assert isinstance(state, ClusterState)
    assert state.clusters_count == 2
    assert ("A", "C") not in itertools.chain.from_iterable(
        itertools.combinations(c, 2) for c in state.clusters
    )
    labels = complete_linkage_labels(state.correlation, 0.70)
    assert every_pair_meets(state.correlation, labels, 0.70)
    # Single linkage would have chained all three into one cluster.
    assert connected_components(state.correlation, 0.70) == 1
    distance = squareform(np.clip(1 - state.correlation, 0, 2), checks=False)
    single = fcluster(linkage(distance, "single"), t=0.30, criterion="distance")
    assert len(set(single)) == 1


@pytest.mark.parametrize("seed", range(40))
def test_every_pair_inside_every_cluster_meets_the_threshold(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_symbols, n_returns = int(rng.integers(2, 12)), int(rng.integers(19, 400))
    factors = rng.standard_normal((n_returns, 3))
    loadings = rng.uniform(-1, 1, (3, n_symbols)) * (rng.random((3, n_symbols)) < 0.6)
    returns = (factors @ loadings + rng.standard_normal((n_returns, n_symbols)) * 0.5) * 0.01
    symbols = [f"S{i}" for i in range(n_symbols)]
    threshold = float(rng.uniform(0.3, 0.95))
    state = compute(
        histories(returns, symbols), dict.fromkeys(symbols, 1.0), Params(threshold, 400, 20)
    )
    assert isinstance(state, ClusterState)
    assert sorted(itertools.chain.from_iterable(state.clusters)) == sorted(symbols)
    at = {s: i for i, s in enumerate(state.symbols)}  # the matrix's order
    column = {s: i for i, s in enumerate(symbols)}  # the returns' order
    raw = raw_correlation(returns)
    for cluster in state.clusters:
        for a, b in itertools.combinations(cluster, 2):
            assert state.correlation[at[a], at[b]] >= threshold
            assert raw[column[a], column[b]] >= threshold


def test_only_symbols_with_a_position_enter_the_matrix() -> None:
    rng = np.random.default_rng(1)
    hist = histories(rng.standard_normal((40, 3)) * 0.01, ["A", "B", "C"])
    state = compute(hist, {"A": 5.0, "B": -2.0, "C": 0.0}, PARAMS)
    assert isinstance(state, ClusterState)
    assert state.symbols == ("A", "B")
    assert state.correlated


def test_fewer_than_two_positions_need_no_history_and_carry_no_stress() -> None:
    state = compute(PriceBook(360), {"A": 5.0, "B": 0.0}, PARAMS)
    assert isinstance(state, ClusterState)
    assert (state.clusters, state.stress) == ((("A",),), 0.0)
    # Published (a one-symbol book's K is 0), but nothing was correlated (review D4).
    assert not state.correlated
    empty = compute(PriceBook(360), {}, PARAMS)
    assert isinstance(empty, ClusterState)
    assert (empty.clusters_count, empty.stress) == (0, 0.0)
    assert not empty.correlated


def test_only_the_last_lookback_shared_points_are_used() -> None:
    rng = np.random.default_rng(2)
    hist = histories(rng.standard_normal((99, 2)) * 0.01, ["A", "B"])
    state = compute(hist, {"A": 1.0, "B": 1.0}, Params(0.7, 30, 20))
    assert isinstance(state, ClusterState)
    assert state.points == 30


def fail(hist: Points, params: Params = PARAMS) -> FailClosed:
    result = compute(from_points(hist, params.lookback), dict.fromkeys(hist, 1.0), params)
    assert isinstance(result, FailClosed), result
    return result


def good(n: int = 30, seed: int = 0) -> Points:
    return points(np.random.default_rng(seed).standard_normal((n - 1, 2)) * 0.01, ["A", "B"])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -3.0])
def test_a_bad_price_fails_closed(bad: float) -> None:
    hist = good()
    hist["A"][10] = (10.0, bad)
    assert fail(hist).reason is FailReason.NAN


def test_a_constant_price_fails_closed() -> None:
    hist = good()
    hist["B"] = [(key, 42.0) for key, _ in hist["B"]]
    result = fail(hist)
    assert result.reason is FailReason.ZERO_VARIANCE
    assert "B" in result.detail


def test_a_short_history_fails_closed() -> None:
    hist = good(n=30)
    hist["A"] = hist["A"][-19:]
    result = fail(hist)
    assert result.reason is FailReason.TOO_SHORT
    assert "A has 19 points" in result.detail


def test_histories_that_share_too_few_keys_fail_closed_as_misaligned() -> None:
    hist = good(n=30)
    hist["B"] = [(key + 15, price) for key, price in hist["B"]]
    assert fail(hist).reason is FailReason.MISALIGNED


def test_alignment_uses_only_shared_keys() -> None:
    hist = good(n=60)
    hist["A"] = [(key, price) for key, price in hist["A"] if key % 7 != 0]
    result = compute(from_points(hist, PARAMS.lookback), {"A": 1.0, "B": 1.0}, PARAMS)
    assert isinstance(result, ClusterState)
    assert result.points == len(hist["A"])
