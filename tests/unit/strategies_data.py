"""Crafted bar series for the strategy tests, and a driver that replays them bar by bar."""

from __future__ import annotations

from collections.abc import Sequence

from tradingstack_workers.bots.marketdata import Bar
from tradingstack_workers.bots.strategies import Strategy

STEP_S = 60.0


def bars(
    closes: Sequence[float],
    *,
    symbol: str = "TEST",
    highs: Sequence[float] | None = None,
    lows: Sequence[float] | None = None,
) -> list[Bar]:
    """One bar per close, a minute apart; open is the previous close, high and low hug
    the body unless given (so a channel rule sees exactly the numbers in the test)."""
    out = []
    for i, close in enumerate(closes):
        open_ = closes[i - 1] if i else close
        high = highs[i] if highs is not None else max(open_, close)
        low = lows[i] if lows is not None else min(open_, close)
        out.append(Bar(symbol, (i + 1) * STEP_S, open_, high, low, close, 1.0))
    return out


def signals(strategy: Strategy, series: Sequence[Bar]) -> list[tuple[int, str, str]]:
    """(bar index, side, reason) of every signal, calling the strategy as a bot would:
    once per new bar with the latest ``history_bars`` bars."""
    found: list[tuple[int, str, str]] = []
    for t in range(len(series)):
        window = series[max(0, t + 1 - strategy.history_bars) : t + 1]
        signal = strategy.on_bars(window)
        if signal is not None:
            assert signal.ts == series[t].ts
            assert 0.0 <= signal.strength <= 1.0
            found.append((t, signal.side, signal.reason))
    return found
