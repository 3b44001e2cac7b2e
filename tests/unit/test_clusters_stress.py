"""ClusterStress: crafted books give the documented values; random books stay in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.clusters_data import histories, with_correlation

from tradingstack_workers.clusters.clustering import (
    ClusterState,
    Params,
    cluster_stress,
    complete_linkage_labels,
    compute,
)

CORR = np.array([[1.0, 0.8, 0.1], [0.8, 1.0, 0.2], [0.1, 0.2, 1.0]])
LABELS = [1, 1, 2]


def test_two_equal_positions_in_one_cluster_score_their_correlation() -> None:
    assert cluster_stress(CORR[:2, :2], [1, 1], np.array([500.0, 500.0])) == pytest.approx(0.8)


def test_a_long_and_a_short_in_one_cluster_offset() -> None:
    assert cluster_stress(CORR[:2, :2], [1, 1], np.array([500.0, -500.0])) == 0.0


def test_exposure_outside_the_cluster_dilutes_stress() -> None:
    exposures = np.array([1.0, 1.0, 2.0])
    # same-cluster pairs: 2 * 1 * 1 * 0.8; all pairs: 2 * (1 + 2 + 2)
    assert cluster_stress(CORR, LABELS, exposures) == pytest.approx(1.6 / 10)


def test_no_pair_means_no_stress() -> None:
    assert cluster_stress(CORR, LABELS, np.array([3.0, 0.0, 0.0])) == 0.0
    assert cluster_stress(CORR, LABELS, np.zeros(3)) == 0.0


def test_one_perfectly_correlated_cluster_on_one_side_scores_one() -> None:
    assert cluster_stress(np.ones((4, 4)), [1] * 4, np.array([1.0, 5.0, 2.0, 9.0])) == 1.0


@pytest.mark.parametrize("seed", range(200))
def test_stress_is_always_within_zero_and_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 15))
    z = rng.standard_normal((int(rng.integers(3, 60)), n)) @ rng.standard_normal((n, n))
    corr = np.corrcoef(z, rowvar=False).reshape(n, n)
    threshold = float(rng.uniform(0.01, 1.0))
    labels = (
        complete_linkage_labels(corr, threshold)
        if seed % 2
        else [int(x) for x in rng.integers(0, 3, n)]  # any grouping, even a bad one
    )
    scale = 10.0 ** rng.uniform(-3, 9, n)
    exposures = rng.choice([-1.0, 0.0, 1.0], n) * scale
    stress = cluster_stress(corr, labels, exposures)
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
    expected = (2 * 2000 * 2000 * r_ab) / (2 * (2000 * 2000 + 2 * 2000 * 1000))
    assert state.stress == pytest.approx(expected)
