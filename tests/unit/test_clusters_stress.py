"""ClusterStress: crafted books give the documented values; random books stay in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.clusters_data import histories, with_correlation

from tradingstack_workers.clusters.clustering import (
    ClusterState,
    Params,
    cluster_stress,
    compute,
)

CORR = np.array([[1.0, 0.8, 0.1], [0.8, 1.0, 0.2], [0.1, 0.2, 1.0]])


def test_two_equal_positions_in_one_cluster_score_half_their_correlation() -> None:
    # The seeds' formula gave r (0.8); every position's own term now counts in the
    # denominator, which keeps the score continuous in size (review D3).
    assert cluster_stress(CORR[:2, :2], np.array([500.0, 500.0]), 0.70) == pytest.approx(0.4)


def test_a_long_and_a_short_in_one_cluster_score_nothing() -> None:
    assert cluster_stress(CORR[:2, :2], np.array([500.0, -500.0]), 0.70) == 0.0


def test_exposure_outside_the_cluster_dilutes_stress() -> None:
    exposures = np.array([1.0, 1.0, 2.0])
    # correlated pair: 2 * 1 * 1 * 0.8; gross squared: 4 ** 2
    assert cluster_stress(CORR, exposures, 0.70) == pytest.approx(1.6 / 16)


def test_no_pair_means_no_stress() -> None:
    assert cluster_stress(CORR, np.array([3.0, 0.0, 0.0]), 0.70) == 0.0
    assert cluster_stress(CORR, np.zeros(3), 0.70) == 0.0


def test_one_perfectly_correlated_book_on_one_side_scores_one_minus_its_concentration() -> None:
    sizes = np.array([1.0, 5.0, 2.0, 9.0])
    share = sizes / sizes.sum()
    expected = 1.0 - float((share**2).sum())
    assert cluster_stress(np.ones((4, 4)), sizes, 0.70) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(200))
def test_stress_is_always_within_zero_and_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 15))
    z = rng.standard_normal((int(rng.integers(3, 60)), n)) @ rng.standard_normal((n, n))
    corr = np.corrcoef(z, rowvar=False).reshape(n, n)
    threshold = float(rng.uniform(0.01, 1.0))
    scale = 10.0 ** rng.uniform(-3, 9, n)
    exposures = rng.choice([-1.0, 0.0, 1.0], n) * scale
    stress = cluster_stress(corr, exposures, threshold)
    assert 0.0 <= stress <= 1.0


def test_compute_reports_stress_from_exposures_amount_times_price() -> None:
    target = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 1.0]])
    returns = with_correlation(target, np.random.default_rng(11), 359)
    state = compute(
        histories(returns, ["A", "B", "C"]),
        {"A": 2_000.0, "B": 2_000.0, "C": -1_000.0},
        Params(0.7, 360, 20),
    )
    assert isinstance(state, ClusterState)
    r_ab = state.correlation[0, 1]
    assert r_ab == pytest.approx(0.9, abs=0.002)
    # Only the same-side pair A-B counts; the gross is 5 000 USD.
    expected = (2 * 2000 * 2000 * r_ab) / 5000**2
    assert state.stress == pytest.approx(expected)
    assert state.clusters == (("A", "B"), ("C",))
