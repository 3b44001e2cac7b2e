"""Breakout momentum (Donchian channels): follow a close beyond the N-bar range.

``entry_high[t]``/``entry_low[t]`` are the highest high and lowest low of the
``lookback`` bars *before* t; ``exit_high``/``exit_low`` the same over ``exit_lookback``
bars (default ``lookback // 2``, the Turtle rule's shorter exit channel). On the last
bar t, in this order:

1. **BUY** (reason ``breakout_high``) on the first close above the entry channel:
   ``close[t] > entry_high[t] and close[t-1] <= entry_high[t-1]``.
2. **SELL** (``breakout_low``) on the first close below it:
   ``close[t] < entry_low[t] and close[t-1] >= entry_low[t-1]``.
3. **EXIT** (``channel_exit``) on the first close through the exit channel against a
   position: below ``exit_low`` (a long's stop) or above ``exit_high`` (a short's).

Entries come first: a breakout through the entry channel always crosses the shorter
exit channel too, and the new direction is what the strategy wants. Strength of an
entry: how far beyond the channel the close is, as a share of the channel's width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..marketdata.feed import Bar
from .base import ParamStrategy, Side, Signal, unit
from .indicators import prior_max, prior_min
from .params import BreakoutParams


@dataclass(frozen=True)
class BreakoutMomentum(ParamStrategy[BreakoutParams]):
    name: ClassVar[str] = "breakout_momentum"
    Params: ClassVar[type[BreakoutParams]] = BreakoutParams

    @property
    def min_bars(self) -> int:
        return self.params.lookback + 2

    def on_bars(self, history: Sequence[Bar]) -> Signal | None:
        s = self.recent(history)
        if s is None:
            return None
        n, m = self.params.lookback, self.params.exit_window
        hi, lo = prior_max(s.high, n), prior_min(s.low, n)
        ex_hi, ex_lo = prior_max(s.high, m), prior_min(s.low, m)
        c0, c1 = float(s.close[-2]), float(s.close[-1])
        width = float(hi[-1] - lo[-1])

        def beyond(distance: float) -> float:
            return unit(distance / width) if width > 0 else 1.0

        def signal(side: Side, reason: str, strength: float, what: str) -> Signal:
            return Signal(s.symbol, s.ts, side, reason, strength, f"close {c1:.6g} {what}")

        if c1 > hi[-1] and c0 <= hi[-2]:
            what = f"above the {n}-bar high {hi[-1]:.6g}"
            return signal("BUY", "breakout_high", beyond(c1 - hi[-1]), what)
        if c1 < lo[-1] and c0 >= lo[-2]:
            what = f"below the {n}-bar low {lo[-1]:.6g}"
            return signal("SELL", "breakout_low", beyond(lo[-1] - c1), what)
        if c1 < ex_lo[-1] and c0 >= ex_lo[-2]:
            return signal("EXIT", "channel_exit", 1.0, f"below the {m}-bar low {ex_lo[-1]:.6g}")
        if c1 > ex_hi[-1] and c0 <= ex_hi[-2]:
            return signal("EXIT", "channel_exit", 1.0, f"above the {m}-bar high {ex_hi[-1]:.6g}")
        return None
