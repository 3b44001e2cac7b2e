"""Correlation structure -> loadings on independent Brownian drivers, validated first.

A symbol's driving noise is ``B_s = sum_k A[s, k] W_k`` with independent standard
Brownian motions ``W_k``; then ``corr(dB_s, dB_t) = (A A^T)[s, t]``. Each row of ``A``
has unit norm, so every symbol's per-bar noise keeps unit variance and its own
volatility scales it. Drivers are named, and the names key the random streams
(see :func:`..brownian.stream_key`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .feed import FeedError

#: Numerical slack: a matrix typed with two decimals is PSD up to rounding at best.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Loadings:
    """``matrix[s, k]``: weight of driver ``drivers[k]`` in symbol ``s``'s noise."""

    drivers: tuple[str, ...]
    matrix: npt.NDArray[np.float64]


def independent(symbols: Sequence[str]) -> Loadings:
    """No correlation: each symbol its own driver."""
    return Loadings(tuple(f"sym:{s}" for s in symbols), np.eye(len(symbols)))


def from_matrix(symbols: Sequence[str], rows: Sequence[Sequence[float]]) -> Loadings:
    """A full correlation matrix, rows and columns in ``symbols`` order.

    Cholesky when positive definite, driver ``k`` named after symbol ``k``: appending a
    symbol to the matrix then leaves the paths of the symbols before it untouched. A
    singular but PSD matrix (two symbols perfectly correlated) has no Cholesky factor;
    it is factored by eigen-decomposition instead.
    """
    n = len(symbols)
    if len(rows) != n or any(len(row) != n for row in rows):
        shape = f"{len(rows)} rows of lengths {sorted({len(r) for r in rows})}"
        raise FeedError(f"correlation: needs {n}x{n} for symbols {', '.join(symbols)}; got {shape}")
    c = np.array(rows, dtype=np.float64)
    if not np.isfinite(c).all():
        raise FeedError("correlation: every entry must be a finite number")
    for i in range(n):
        if abs(c[i, i] - 1.0) > TOLERANCE:
            raise FeedError(f"correlation[{symbols[i]}][{symbols[i]}]: must be 1, got {c[i, i]}")
        for j in range(i + 1, n):
            pair = f"correlation[{symbols[i]}][{symbols[j]}]"
            if abs(c[i, j] - c[j, i]) > TOLERANCE:
                raise FeedError(f"{pair}: {c[i, j]} differs from its mirror {c[j, i]}")
            if abs(c[i, j]) > 1.0:
                raise FeedError(f"{pair}: {c[i, j]} is outside [-1, 1]")
    values, vectors = np.linalg.eigh(c)
    if values[0] < -TOLERANCE:
        weights = np.abs(vectors[:, 0])
        involved = [symbols[i] for i in np.argsort(-weights) if weights[i] > 0.2]
        raise FeedError(
            "correlation: not positive semi-definite (smallest eigenvalue "
            f"{values[0]:.4g}); no market has these pairwise correlations together. "
            f"Most involved: {', '.join(involved)}"
        )
    try:
        return Loadings(
            tuple(f"sym:{s}" for s in symbols), np.linalg.cholesky(c).astype(np.float64)
        )
    except np.linalg.LinAlgError:
        scaled = vectors * np.sqrt(np.clip(values, 0.0, None))
        # Renormalise rows: clipping tiny negative eigenvalues must not change variances.
        scaled /= np.linalg.norm(scaled, axis=1, keepdims=True)
        return Loadings(tuple(f"eig:{k}" for k in range(n)), scaled)


def from_factors(symbols: Sequence[str], factors: Mapping[str, Mapping[str, float]]) -> Loadings:
    """A factor model: ``{factor: {symbol: loading}}``; the rest of each symbol's variance
    is its own noise. PSD by construction; loadings whose squares exceed 1 are refused.

    Two symbols loading ``b1`` and ``b2`` on one shared factor have correlation ``b1*b2``.
    """
    index = {s: i for i, s in enumerate(symbols)}
    names = sorted(factors)
    shared = np.zeros((len(symbols), len(names)))
    for k, name in enumerate(names):
        for symbol, loading in factors[name].items():
            if symbol not in index:
                raise FeedError(f"factors.{name}.{symbol}: not one of the feed's symbols")
            if not np.isfinite(loading) or abs(loading) > 1.0:
                raise FeedError(f"factors.{name}.{symbol}: {loading} is outside [-1, 1]")
            shared[index[symbol], k] = loading
    explained = (shared**2).sum(axis=1)
    for symbol, total in zip(symbols, explained, strict=True):
        if total > 1.0 + TOLERANCE:
            raise FeedError(
                f"factors: {symbol}'s loadings have squares summing to {total:.4g}; "
                "they must not exceed 1 (the remainder is the symbol's own noise)"
            )
    own = np.diag(np.sqrt(np.clip(1.0 - explained, 0.0, None)))
    drivers = tuple(f"factor:{n}" for n in names) + tuple(f"sym:{s}" for s in symbols)
    return Loadings(drivers, np.hstack([shared, own]))
