"""The bot's view of the market: the feed, a bounded window of bars per symbol, signals.

Leader and standby both advance it every cycle, so a promoted standby has warm
strategies at once; :meth:`Market.resync` rewinds to a persisted cursor so a restarted
or promoted bot sees exactly the bars its predecessor had not acted on yet.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from ..wire.ledger import MarketStateHash
from .marketdata import Bar, Feed, market_state
from .marketdata.state import DEFAULT_WINDOW
from .strategies import Signal, Strategy

#: Bar timestamps returned by one poll at most; a bot far behind catches up over cycles.
MAX_STEPS = 500


class Market:
    def __init__(self, feed: Feed, strategy: Strategy, *, keep: int = 0) -> None:
        self.feed = feed
        self.strategy = strategy
        self.keep = max(keep, strategy.history_bars, DEFAULT_WINDOW + 1)
        self._bars: dict[str, deque[Bar]] = {s: deque(maxlen=self.keep) for s in feed.symbols}

    @property
    def cursor(self) -> float:
        return self.feed.cursor

    def resync(self, ts: float) -> None:
        """Continue after ``ts``, with the window of bars up to it reloaded."""
        self.feed.seek(ts)
        history = self.feed.history(ts, self.keep)
        self._bars = {s: deque(history.get(s, ()), maxlen=self.keep) for s in self.feed.symbols}

    def advance(self, now: float) -> list[tuple[Signal, Bar]]:
        """Take the bars closed up to ``now``; the signals they raise, oldest first."""
        out: list[tuple[Signal, Bar]] = []
        for bar in self.feed.poll(now, max_steps=MAX_STEPS):
            window = self._bars[bar.symbol]
            window.append(bar)
            signal = self.strategy.on_bars(_tail(window, self.strategy.history_bars))
            if signal is not None:
                out.append((signal, bar))
        return out

    def marks(self) -> dict[str, float]:
        """The last close of every symbol that has one."""
        return {s: bars[-1].close for s, bars in self._bars.items() if bars}

    def states(self) -> dict[str, MarketStateHash]:
        out = {}
        for symbol, bars in self._bars.items():
            state = market_state(list(bars))
            if state is not None:
                out[symbol] = MarketStateHash(vol_regime=state.vol_regime, sigma=state.sigma)
        return out

    def newest_ts(self) -> float | None:
        stamps = [bars[-1].ts for bars in self._bars.values() if bars]
        return max(stamps) if stamps else None

    def loaded(self) -> int:
        return sum(1 for bars in self._bars.values() if bars)


def _tail(window: deque[Bar], count: int) -> Sequence[Bar]:
    bars = list(window)
    return bars[-count:] if count > 0 else bars
