"""Bollinger bounce: fade a move outside the bands once price comes back inside.

With ``mid`` the simple mean and ``sd`` the population std of the last ``period``
closes, ``lower = mid - k*sd`` and ``upper = mid + k*sd`` (bands of bar t include
close t). On the last bar t, in this order:

1. **EXIT** (reason ``bb_mid_cross``) when the close crosses the middle band, either way:
   ``close[t-1] < mid[t-1] and close[t] >= mid[t]`` (a long's target reached) or
   ``close[t-1] > mid[t-1] and close[t] <= mid[t]`` (a short's). Checked first: a bar
   that jumps from below the lower band past the middle has already done the bounce,
   so no entry is taken at the target.
2. **BUY** (``bb_lower_rebound``) when the close crosses back above the lower band:
   ``close[t-1] < lower[t-1] and close[t] >= lower[t]``.
3. **SELL** (``bb_upper_rejection``) when it crosses back below the upper band:
   ``close[t-1] > upper[t-1] and close[t] <= upper[t]``.

Entering on the way back in, not on the way out, avoids buying a falling market on
each new low. Strength of an entry: the room left to the middle band as a share of the
band's half-width, ``(mid - close) / (k*sd)`` for BUY, clamped to [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..marketdata.feed import Bar
from .base import ParamStrategy, Side, Signal, crossed_above, crossed_below, unit
from .indicators import rolling_mean_std
from .params import BollingerParams


@dataclass(frozen=True)
class BollingerBounce(ParamStrategy[BollingerParams]):
    name: ClassVar[str] = "bollinger_bounce"
    Params: ClassVar[type[BollingerParams]] = BollingerParams

    @property
    def min_bars(self) -> int:
        return self.params.period + 1

    def on_bars(self, history: Sequence[Bar]) -> Signal | None:
        s = self.recent(history)
        if s is None:
            return None
        mean, sd = rolling_mean_std(s.close, self.params.period)
        k = self.params.k
        c0, c1 = float(s.close[-2]), float(s.close[-1])
        m0, m1 = float(mean[-2]), float(mean[-1])
        lo0, lo1 = m0 - k * float(sd[-2]), m1 - k * float(sd[-1])
        up0, up1 = m0 + k * float(sd[-2]), m1 + k * float(sd[-1])
        bands = f"lower {lo1:.6g}, mid {m1:.6g}, upper {up1:.6g}"

        def signal(side: Side, reason: str, strength: float, what: str) -> Signal:
            detail = f"close {c1:.6g} {what} ({bands})"
            return Signal(s.symbol, s.ts, side, reason, strength, detail)

        if crossed_above(c0, m0, c1, m1) or crossed_below(c0, m0, c1, m1):
            return signal("EXIT", "bb_mid_cross", 1.0, "crossed the middle band")
        half_width = m1 - lo1
        if crossed_above(c0, lo0, c1, lo1):
            room = unit((m1 - c1) / half_width) if half_width > 0 else 0.0
            return signal("BUY", "bb_lower_rebound", room, "crossed back above the lower band")
        if crossed_below(c0, up0, c1, up1):
            room = unit((c1 - m1) / half_width) if half_width > 0 else 0.0
            return signal("SELL", "bb_upper_rejection", room, "crossed back below the upper band")
        return None
