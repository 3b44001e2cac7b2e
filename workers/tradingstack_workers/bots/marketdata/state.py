"""Market state for the governor: realised volatility and its regime label, from bars.

``sigma`` is the standard deviation of log returns over the last ``window`` bars,
scaled to **one day** by ``sqrt(86400 / bar interval)`` (the interval is the median
spacing of the bars' ts, so weekend gaps in a recording do not distort it). A per-bar
sigma would mean something different for every bar size; the governor reads one scale.

Regimes use the governor's own cut-offs (:mod:`...governor.budget`), so the label this
writes and the label the governor would derive from the sigma beside it always agree:

===========  ==================================
LOW_VOL      sigma < 0.005   (under 0.5 %/day)
NORMAL_VOL   0.005 <= sigma <= 0.02
HIGH_VOL     0.02 < sigma <= 0.03
EXTREME_VOL  sigma > 0.03    (over 3 %/day)
===========  ==================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np

from ...wire.ledger import EXTREME_SIGMA, HIGH_SIGMA, LOW_SIGMA
from .feed import Bar

VolRegime = Literal["LOW_VOL", "NORMAL_VOL", "HIGH_VOL", "EXTREME_VOL"]
DAY_SECONDS = 86400.0
DEFAULT_WINDOW = 60
#: Fewer returns than this give no state: a sigma from a handful of returns would swing
#: the regime on noise, and the governor has a fallback for a missing one.
MIN_RETURNS = 20


class VolState(NamedTuple):
    """What ``<prefix>:state:market:{SYMBOL}`` carries."""

    sigma: float
    vol_regime: VolRegime


def regime(sigma: float) -> VolRegime:
    """The label for a daily sigma; boundaries as the governor's ``vol_level``."""
    if sigma > EXTREME_SIGMA:
        return "EXTREME_VOL"
    if sigma > HIGH_SIGMA:
        return "HIGH_VOL"
    if sigma < LOW_SIGMA:
        return "LOW_VOL"
    return "NORMAL_VOL"


def market_state(
    bars: Sequence[Bar], *, window: int = DEFAULT_WINDOW, min_returns: int = MIN_RETURNS
) -> VolState | None:
    """Daily realised volatility over the last ``window`` returns of one symbol's bars
    (oldest first), or None when fewer than ``min_returns`` returns are available."""
    if window < 2 or min_returns < 2:
        raise ValueError("window and min_returns must be >= 2")
    recent = bars[-(window + 1) :]
    if len(recent) - 1 < min_returns:
        return None
    closes = np.array([b.close for b in recent], dtype=np.float64)
    ts = np.array([b.ts for b in recent], dtype=np.float64)
    spacing = float(np.median(np.diff(ts)))
    if not spacing > 0:
        raise ValueError("bars must have strictly increasing ts")
    per_bar = float(np.std(np.diff(np.log(closes)), ddof=1))
    sigma = per_bar * math.sqrt(DAY_SECONDS / spacing)
    return VolState(sigma=sigma, vol_regime=regime(sigma))
