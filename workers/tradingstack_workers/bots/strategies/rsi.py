"""RSI mean reversion: fade an exhausted move once momentum turns back.

RSI is Wilder's (see :func:`.indicators.wilder_rsi`) over ``period`` bars. On the last
bar t, in this order:

1. **EXIT** (reason ``rsi_neutral_cross``) when RSI crosses 50 either way
   (``rsi[t-1] < 50 <= rsi[t]`` or ``rsi[t-1] > 50 >= rsi[t]``): the reversion a
   position was opened for has happened. First, so that one violent bar from oversold
   past 50 does not open a position whose move is already over.
2. **BUY** (``rsi_oversold_exit``) when RSI crosses back above ``oversold``:
   ``rsi[t-1] < oversold <= rsi[t]``.
3. **SELL** (``rsi_overbought_exit``) when it crosses back below ``overbought``:
   ``rsi[t-1] > overbought >= rsi[t]``.

Waiting for RSI to leave the extreme zone, rather than entering as it enters it, keeps
the strategy out of a market that is still accelerating. Strength: how deep the previous
bar was in the zone, ``(oversold - rsi[t-1]) / oversold`` for BUY, clamped to [0, 1].

Wilder's smoothing remembers its seed forever, so the value depends a little on where
the window starts; ``history_bars`` (10 periods) makes the seed's weight ~1e-4, and
feeding the same window after a restart gives the same signal exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..marketdata.feed import Bar
from .base import ParamStrategy, Side, Signal, crossed_above, crossed_below, unit
from .indicators import wilder_rsi
from .params import NEUTRAL, RsiParams


@dataclass(frozen=True)
class RsiMeanReversion(ParamStrategy[RsiParams]):
    name: ClassVar[str] = "rsi_mean_reversion"
    Params: ClassVar[type[RsiParams]] = RsiParams

    @property
    def min_bars(self) -> int:
        return self.params.period + 2

    @property
    def history_bars(self) -> int:
        return max(self.min_bars, 10 * self.params.period)

    def on_bars(self, history: Sequence[Bar]) -> Signal | None:
        s = self.recent(history)
        if s is None:
            return None
        rsi = wilder_rsi(s.close, self.params.period)
        r0, r1 = float(rsi[-2]), float(rsi[-1])
        low, high = self.params.oversold, self.params.overbought

        def signal(side: Side, reason: str, strength: float, what: str) -> Signal:
            detail = f"RSI({self.params.period}) {r0:.4g} -> {r1:.4g} {what}"
            return Signal(s.symbol, s.ts, side, reason, strength, detail)

        if crossed_above(r0, NEUTRAL, r1, NEUTRAL) or crossed_below(r0, NEUTRAL, r1, NEUTRAL):
            return signal("EXIT", "rsi_neutral_cross", 1.0, "crossed 50")
        if crossed_above(r0, low, r1, low):
            return signal("BUY", "rsi_oversold_exit", unit((low - r0) / low), f"left <{low:g}")
        if crossed_below(r0, high, r1, high):
            depth = unit((r0 - high) / (100.0 - high))
            return signal("SELL", "rsi_overbought_exit", depth, f"left >{high:g}")
        return None
