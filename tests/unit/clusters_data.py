"""Crafted return series for the clusters tests: exact correlations, prices from returns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from tradingstack_workers.clusters.book import PriceBook, from_points

Array = NDArray[np.float64]


def orthonormal(rng: np.random.Generator, n: int, k: int) -> Array:
    """``k`` zero-mean, mutually uncorrelated columns of ``n`` rows with unit variance."""
    raw = rng.standard_normal((n, k))
    raw -= raw.mean(axis=0)
    q, _ = np.linalg.qr(raw)
    basis: Array = q * np.sqrt(n - 1)
    return basis


def with_correlation(target: Array, rng: np.random.Generator, n: int) -> Array:
    """Returns whose sample correlation matrix is exactly ``target`` (positive definite)."""
    basis = orthonormal(rng, n, target.shape[0])
    out: Array = basis @ np.linalg.cholesky(target).T * 0.01
    return out


Points = dict[str, list[tuple[float, float]]]


def points(returns: Array, symbols: Sequence[str]) -> Points:
    """``(key, price)`` paths starting at 100 whose log returns are ``returns``; keys 0, 1, ..."""
    prices = 100.0 * np.exp(np.vstack([np.zeros(returns.shape[1]), np.cumsum(returns, axis=0)]))
    return {
        s: [(float(k), float(p)) for k, p in enumerate(prices[:, i])] for i, s in enumerate(symbols)
    }


def histories(returns: Array, symbols: Sequence[str], lookback: int = 10_000) -> PriceBook:
    """The book holding :func:`points`."""
    return from_points(points(returns, symbols), lookback)
