"""Property tests (hypothesis) of ClusterStress: bounds, monotone in every correlation, continuous.

The review's counter-examples (reviews/risk.md D2, D3) are kept as plain tests below the
properties, so the exact books that broke the old formula stay checked by name.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from tradingstack_workers.clusters.clustering import RAMP_BAND, cluster_stress

sizes = st.floats(min_value=1e-3, max_value=1e9, allow_nan=False)
signed = st.tuples(st.sampled_from([-1.0, 1.0]), sizes).map(lambda t: t[0] * t[1])
correlation = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)
threshold = st.floats(min_value=0.01, max_value=1.0)


@st.composite
def books(draw: st.DrawFn, min_size: int = 1) -> tuple[np.ndarray, np.ndarray, float]:
    """A symmetric matrix of correlations in [-1, 1], signed exposures and a threshold."""
    n = draw(st.integers(min_size, 7))
    corr = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            corr[i, j] = corr[j, i] = draw(correlation)
    exposures = np.array([draw(signed) for _ in range(n)])
    return corr, exposures, draw(threshold)


def draw_pair(data: st.DataObject, n: int) -> tuple[int, int]:
    """Two distinct positions of a book of ``n``."""
    i = data.draw(st.integers(0, n - 1))
    return i, data.draw(st.integers(0, n - 1).filter(lambda k: k != i))


@given(books())
def test_stress_is_within_zero_and_one_minus_the_concentration(
    book: tuple[np.ndarray, np.ndarray, float],
) -> None:
    corr, exposures, thr = book
    stress = cluster_stress(corr, exposures, thr)
    share = np.abs(exposures) / np.abs(exposures).sum()
    assert 0.0 <= stress <= 1.0 - float((share**2).sum()) + 1e-12
    assert stress < 1.0


@given(books(min_size=2), st.data())
def test_stress_never_falls_when_any_correlation_rises(
    book: tuple[np.ndarray, np.ndarray, float], data: st.DataObject
) -> None:
    corr, exposures, thr = book
    i, j = draw_pair(data, len(exposures))
    raised = corr.copy()
    raised[i, j] = raised[j, i] = data.draw(st.floats(min_value=corr[i, j], max_value=1.0))
    assert cluster_stress(raised, exposures, thr) >= cluster_stress(corr, exposures, thr) - 1e-12


@given(books(min_size=2), st.data())
def test_stress_is_continuous_in_each_position_size(
    book: tuple[np.ndarray, np.ndarray, float], data: st.DataObject
) -> None:
    """Lipschitz: one exposure moved by eps moves S by at most |eps|(4G + |eps|)/(G - |eps|)^2."""
    corr, exposures, thr = book
    gross = float(np.abs(exposures).sum())
    k = data.draw(st.integers(0, len(exposures) - 1))
    eps = data.draw(st.floats(min_value=-0.4, max_value=0.4)) * gross
    moved = exposures.copy()
    moved[k] += eps
    change = abs(cluster_stress(corr, moved, thr) - cluster_stress(corr, exposures, thr))
    bound = abs(eps) * (4 * gross + abs(eps)) / (gross - abs(eps)) ** 2
    assert change <= bound + 1e-12


@given(books(min_size=2), st.data())
def test_stress_is_continuous_in_each_correlation(
    book: tuple[np.ndarray, np.ndarray, float], data: st.DataObject
) -> None:
    """No cliff at the threshold: moving one r by d moves S by at most 2 d (1 + 1/band)."""
    corr, exposures, thr = book
    i, j = draw_pair(data, len(exposures))
    moved = corr.copy()
    moved[i, j] = moved[j, i] = data.draw(correlation)
    d = abs(moved[i, j] - corr[i, j])
    assume(d > 0)
    band = min(RAMP_BAND, thr)
    change = abs(cluster_stress(moved, exposures, thr) - cluster_stress(corr, exposures, thr))
    assert change <= 2 * d * (1 + 1 / band) + 1e-12


def pair(r: float) -> np.ndarray:
    return np.array([[1.0, r], [r, 1.0]])


def triple(ab: float, bc: float, ac: float) -> np.ndarray:
    return np.array([[1.0, ab, ac], [ab, 1.0, bc], [ac, bc, 1.0]])


def test_review_d2_raising_bc_no_longer_drops_the_large_correlated_pair() -> None:
    exposures = np.array([100.0, 10.0, 10.0])
    low = cluster_stress(triple(0.75, 0.74, 0.60), exposures, 0.70)
    high = cluster_stress(triple(0.75, 0.76, 0.60), exposures, 0.70)
    assert 0 < low <= high


def test_review_d3_a_one_dollar_position_adds_about_nothing() -> None:
    alone = cluster_stress(pair(0.9), np.array([1e9, 0.0]), 0.70)
    with_one = cluster_stress(pair(0.9), np.array([1e9, 1.0]), 0.70)
    assert alone == 0.0
    assert with_one < 1e-8


def test_no_cliff_at_the_threshold_and_full_weight_from_it() -> None:
    equal = np.array([500.0, 500.0])
    assert cluster_stress(pair(0.5999), equal, 0.70) == 0.0
    just_below = cluster_stress(pair(0.69999999), equal, 0.70)
    at = cluster_stress(pair(0.70), equal, 0.70)
    assert at == 0.35  # r / 2 for two equal positions
    assert abs(at - just_below) < 1e-6


def test_a_balanced_hedge_scores_zero_whatever_its_correlation() -> None:
    for r in (0.0, 0.7, 0.95, 1.0):
        assert cluster_stress(pair(r), np.array([500.0, -500.0]), 0.70) == 0.0
