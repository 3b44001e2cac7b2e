"""Indicators over a whole series, causal by construction: value ``t`` uses ``x[:t+1]``.

NaN marks the warm-up positions where an indicator is not yet defined. Tests check
causality directly: an indicator of a prefix equals the prefix of the indicator.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .base import Floats


def _pad(values: Floats, n: int) -> Floats:
    return np.concatenate([np.full(n, np.nan), values])


def rolling_mean_std(x: Floats, n: int) -> tuple[Floats, Floats]:
    """Mean and population std (ddof 0, Bollinger's convention) of the last ``n`` values."""
    if len(x) < n:
        return np.full(len(x), np.nan), np.full(len(x), np.nan)
    windows = sliding_window_view(x, n)
    return _pad(windows.mean(axis=1), n - 1), _pad(windows.std(axis=1), n - 1)


def prior_max(x: Floats, n: int) -> Floats:
    """Max of the ``n`` values *before* each position (the current one excluded)."""
    if len(x) <= n:
        return np.full(len(x), np.nan)
    return _pad(sliding_window_view(x[:-1], n).max(axis=1), n)


def prior_min(x: Floats, n: int) -> Floats:
    """Min of the ``n`` values *before* each position (the current one excluded)."""
    if len(x) <= n:
        return np.full(len(x), np.nan)
    return _pad(sliding_window_view(x[:-1], n).min(axis=1), n)


def wilder_rsi(x: Floats, n: int) -> Floats:
    """Wilder's RSI: averages seeded with the simple mean of the first ``n`` gains and
    losses, then ``avg = (avg * (n - 1) + value) / n``. No losses (and some gain) is 100,
    a flat window 50. First defined at position ``n``."""
    out = np.full(len(x), np.nan)
    if len(x) <= n:
        return out
    delta = np.diff(x)
    gains, losses = np.clip(delta, 0.0, None), np.clip(-delta, 0.0, None)
    avg_gain, avg_loss = float(gains[:n].mean()), float(losses[:n].mean())
    for t in range(n, len(x)):
        if t > n:
            avg_gain = (avg_gain * (n - 1) + gains[t - 1]) / n
            avg_loss = (avg_loss * (n - 1) + losses[t - 1]) / n
        if avg_loss == 0.0:
            out[t] = 50.0 if avg_gain == 0.0 else 100.0
        else:
            out[t] = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    return out
