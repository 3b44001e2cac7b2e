"""Shrinkage toward zero: strong for short samples and weak correlations, fading with n."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.clusters_data import with_correlation

from tradingstack_workers.clusters.correlation import (
    FailClosed,
    correlation_variance,
    pearson,
    shrink_toward_zero,
    standardise,
)


def raw_and_shrunk(returns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = standardise(returns, [str(i) for i in range(returns.shape[1])])
    assert not isinstance(z, FailClosed)
    corr = pearson(z)
    var = correlation_variance(z, corr)
    return corr, var, shrink_toward_zero(corr, var)


def pair(rho: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return with_correlation(np.array([[1, rho], [rho, 1]]), rng, n)


def test_pearson_matches_numpy() -> None:
    returns = np.random.default_rng(0).standard_normal((50, 6))
    corr, _, _ = raw_and_shrunk(returns)
    np.testing.assert_allclose(corr, np.corrcoef(returns, rowvar=False), atol=1e-12)


def test_shrinkage_never_raises_a_correlation_and_keeps_sign_and_diagonal() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        corr, _, shrunk = raw_and_shrunk(rng.standard_normal((int(rng.integers(12, 80)), 5)))
        assert np.all(np.abs(shrunk) <= np.abs(corr) + 1e-15)
        assert np.all(shrunk * corr >= 0)
        np.testing.assert_array_equal(np.diag(shrunk), 1.0)


def test_variance_matches_normal_theory_and_grows_with_fat_tails() -> None:
    rng = np.random.default_rng(2)
    n, rho = 20_000, 0.6
    normal = rng.standard_normal((n, 2))
    normal[:, 1] = rho * normal[:, 0] + np.sqrt(1 - rho**2) * normal[:, 1]
    corr, var, _ = raw_and_shrunk(normal)
    expected = (1 - corr[0, 1] ** 2) ** 2 / n
    assert var[0, 1] == pytest.approx(expected, rel=0.1)
    heavy = rng.standard_t(3, (n, 2))
    heavy[:, 1] = rho * heavy[:, 0] + np.sqrt(1 - rho**2) * heavy[:, 1]
    corr_t, var_t, _ = raw_and_shrunk(heavy)
    assert var_t[0, 1] > 1.5 * (1 - corr_t[0, 1] ** 2) ** 2 / n


def test_a_strong_correlation_over_a_long_sample_is_barely_touched() -> None:
    _, _, shrunk = raw_and_shrunk(pair(0.80, 359, np.random.default_rng(3)))
    assert shrunk[0, 1] == pytest.approx(0.80, abs=0.002)


def test_shrinkage_fades_as_the_sample_grows() -> None:
    rng = np.random.default_rng(4)
    pulls = [0.75 - raw_and_shrunk(pair(0.75, n, rng))[2][0, 1] for n in (19, 59, 359)]
    assert pulls[0] > pulls[1] > pulls[2] > 0
    assert pulls[2] < 0.002


def test_seed_sized_samples_of_unrelated_series_cluster_less_after_shrinkage() -> None:
    """10 returns (the seeds' minimum): shrinkage removes about a third of chance clusters.

    The minimum sample (20 points by default) is the main guard; shrinkage is the second.
    """
    rng = np.random.default_rng(5)
    raw_hits = shrunk_hits = 0
    for _ in range(4000):
        corr, _, shrunk = raw_and_shrunk(rng.standard_normal((10, 2)))
        raw_hits += corr[0, 1] >= 0.70
        shrunk_hits += shrunk[0, 1] >= 0.70
    assert raw_hits > 0
    assert shrunk_hits < 0.8 * raw_hits


def test_a_correlation_within_its_standard_error_of_zero_becomes_zero() -> None:
    corr = np.array([[1.0, 0.05], [0.05, 1.0]])
    var = np.full((2, 2), 0.01)  # standard error 0.1
    assert shrink_toward_zero(corr, var)[0, 1] == 0.0
