"""Log-return correlations over aligned price histories, shrunk toward zero (numpy, pure).

Alignment: a symbol's points are keyed by the cycle that sampled them, so rows are
the keys every symbol has; the last ``lookback`` shared rows are used.

Correlation: Pearson, vectorised (standardised returns, one matrix product).

Shrinkage: each off-diagonal correlation is shrunk toward zero by its own
intensity ``lambda_ij = min(1, Var(r_ij) / r_ij**2)``: the Schaefer-Strimmer (2005,
"A shrinkage approach to large-scale covariance matrix estimation") analytic
Ledoit-Wolf-type intensity, applied pair by pair (a positive-part James-Stein rule).
``Var(r_ij)`` is the delta-method variance of Pearson's r estimated from the data's
own fourth moments (:func:`correlation_variance`), so heavy-tailed crypto returns
are not taken for more certain than they are. Why per pair and not one global
intensity: in a book where a few pairs are truly correlated and many are not, one
intensity is set by the noise pairs and drags the real correlations under the
threshold (10 symbols, one pair at 0.80, 360 points: global lambda ~0.16, the pair
falls to ~0.67). Per pair, a correlation many standard errors from zero is barely
touched (0.80 at 360 points loses ~0.0004; at 20 points ~0.01), while one a few
standard errors from zero, which is what a short sample of unrelated series
produces, is pulled under the threshold (with 20 points a chance 0.70 drops to
~0.67). The effect fades as 1/n, so it matters only while the sample is short.
Shrinking toward zero only lowers ``|r|``, so a cluster found on the shrunk matrix
also meets the threshold on the raw one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float64]

#: Returns whose standard deviation is below this are treated as constant.
MIN_STD = 1e-12


class FailReason(StrEnum):
    """Why no cluster state was written this cycle (the fail-closed counter's label)."""

    NAN = "nan"
    ZERO_VARIANCE = "zero_variance"
    MISALIGNED = "misaligned"
    TOO_SHORT = "too_short"


@dataclass(frozen=True)
class FailClosed:
    """The data cannot support a correlation; the shell writes nothing and counts it."""

    reason: FailReason
    detail: str


def shared_keys(keys: Sequence[NDArray[np.float64]]) -> NDArray[np.float64]:
    """The keys every array holds, sorted: one sort of all of them, counted (each key once
    per array, so a count of ``len(keys)`` means "in all"), not N-1 pairwise merges.

    Histories hold strictly increasing keys (the store replaces by score); an array that
    does not is deduplicated first, so a repeated key is never counted twice.
    """
    if not keys:
        return np.empty(0)
    every = np.concatenate(keys)
    steps = np.diff(every) > 0
    # Steps across two arrays' boundary say nothing; the rest must all rise.
    boundaries = np.cumsum([len(k) for k in keys])[:-1] - 1
    steps[boundaries[(boundaries >= 0) & (boundaries < len(steps))]] = True
    if not steps.all():
        every = np.concatenate([np.unique(k) for k in keys])
    found, counts = np.unique(every, return_counts=True)
    shared: NDArray[np.float64] = found[counts == len(keys)]
    return shared


def log_returns(prices: Matrix) -> Matrix:
    """Row-to-row log returns of a (points x symbols) price matrix."""
    return np.diff(np.log(prices), axis=0)


def standardise(returns: Matrix, symbols: Sequence[str]) -> Matrix | FailClosed:
    """Returns centred and scaled to unit sample variance, column by column."""
    if not np.all(np.isfinite(returns)):
        return FailClosed(FailReason.NAN, "a return is NaN or infinite")
    centred = returns - returns.mean(axis=0)
    std = np.sqrt((centred**2).sum(axis=0) / (len(returns) - 1))
    flat = [s for s, sd in zip(symbols, std, strict=True) if not sd > MIN_STD]
    if flat:
        return FailClosed(FailReason.ZERO_VARIANCE, f"constant price: {', '.join(flat)}")
    standardised: Matrix = centred / std
    return standardised


def pearson(z: Matrix) -> Matrix:
    """Pearson correlation from standardised returns: one matrix product."""
    n = len(z)
    z = np.ascontiguousarray(z)
    # ``z.T @ z`` of one contiguous array is numpy's symmetric product (BLAS syrk): half
    # the work of a general product, and exactly symmetric. In place from here: N x N.
    corr: Matrix = z.T @ z
    corr *= 1.0 / (n - 1)
    np.clip(corr, -1.0, 1.0, out=corr)
    np.fill_diagonal(corr, 1.0)
    return corr


def correlation_variance(z: Matrix, corr: Matrix) -> Matrix:
    """Large-sample variance of each ``r_ij``, from the data's own fourth moments.

    The delta-method formula for the Pearson coefficient (Kendall and Stuart), with
    moments of the standardised returns ``mu_ab = mean(z_i**a * z_j**b)``::

        n Var(r) = mu22 + r**2/4 (mu40 + mu04 + 2 mu22) - r (mu31 + mu13)

    It equals ``(1 - r**2)**2 / n`` for normal returns and grows with fat tails; each
    moment matrix is one matrix product.
    """
    n = len(z)
    z = z * np.sqrt(n / (n - 1))  # moments need unit *population* variance
    z2 = z**2
    mu22 = (z2.T @ z2) / n
    mu4 = (z2**2).mean(axis=0)
    mu31 = ((z2 * z).T @ z) / n
    var: Matrix = (
        mu22 + corr**2 / 4 * (mu4[:, None] + mu4[None, :] + 2 * mu22) - corr * (mu31 + mu31.T)
    ) / n
    return np.maximum(var, 0.0)


def shrink_toward_zero(corr: Matrix, var: Matrix) -> Matrix:
    """Shrink each off-diagonal ``r_ij`` by ``min(1, Var(r_ij) / r_ij**2)``."""
    r2 = corr**2
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = np.where(r2 > 0, np.minimum(1.0, var / r2), 1.0)
    shrunk: Matrix = corr * (1.0 - intensity)
    np.fill_diagonal(shrunk, 1.0)
    return shrunk


def shrunk_correlation(
    prices: Matrix, symbols: Sequence[str], *, floor: float | None = None
) -> Matrix | FailClosed:
    """Log returns -> Pearson -> per-pair shrinkage toward zero.

    ``floor`` (>= 0, optional): the caller reads a correlation only for how far it is
    above ``floor``. Shrinking only lowers ``|r|``, so a pair whose raw correlation is at
    most ``floor`` stays at most ``floor`` shrunk: then only the symbols in some pair
    above it are shrunk (their fourth-moment matrices are the expensive part, three
    times the correlation's own product), and the other entries keep their raw value.
    Without ``floor`` every pair is shrunk.
    """
    if floor is not None and floor < 0:
        raise ValueError(f"floor {floor} is negative")
    z = standardise(log_returns(prices), symbols)
    if isinstance(z, FailClosed):
        return z
    corr = pearson(z)
    involved = np.arange(len(symbols))
    if floor is not None:
        above = corr > floor
        np.fill_diagonal(above, False)
        involved = np.flatnonzero(above.any(axis=0))
    if len(involved) == len(symbols):
        return shrink_toward_zero(corr, correlation_variance(z, corr))
    block = np.ix_(involved, involved)
    sub = corr[block]
    corr[block] = shrink_toward_zero(sub, correlation_variance(z[:, involved], sub))
    return corr
