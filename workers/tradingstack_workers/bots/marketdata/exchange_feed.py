"""Market data from the exchange: OHLCV polled through ccxt, behind the :class:`Feed` contract.

The exchange stamps a candle with its *open* time; a :class:`Bar`'s ``ts`` is its close
(open + interval), so "no look-ahead" stays ``ts <= now``: the candle still forming is
never returned. Whole time steps only: a step is released once every symbol has its
candle for it (the slowest symbol sets the pace), so strategies and marks never see a
step half-filled. Calls go through :class:`...execution.venue.VenueCalls` (rate limiter,
429 pauses, per-endpoint metrics); public data, so no credentials are needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..execution.venue import Market, VenueCalls, markets
from ..execution.venue_config import MarketType
from .feed import Bar, FeedError
from .timeframes import timeframe

#: Candles asked for per request at most (Binance answers up to 1000).
PAGE = 1000


class ExchangeFeed:
    """Closed candles of ``symbols`` every ``interval_s`` seconds from one exchange."""

    def __init__(
        self,
        calls: VenueCalls,
        symbols: Sequence[str],
        market_type: MarketType,
        interval_s: int,
    ) -> None:
        try:
            self._timeframe = timeframe(interval_s)
        except ValueError as exc:
            raise FeedError(f"feed.interval_s: {exc}") from None
        self._calls = calls
        self._symbols = tuple(symbols)
        self._market_type = market_type
        self._interval = interval_s
        self._markets: dict[str, Market] = {}
        self._cursor = 0.0

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def cursor(self) -> float:
        return self._cursor

    def seek(self, ts: float) -> None:
        self._cursor = ts

    def poll(self, now: float, *, timeout_s: float = 0.0, max_steps: int = 1000) -> Sequence[Bar]:
        by_symbol = {s: self._closed(s, after=self._cursor, until=now) for s in self._symbols}
        if any(not bars for bars in by_symbol.values()):
            return []
        ready = min(bars[-1].ts for bars in by_symbol.values())
        steps = sorted({b.ts for bars in by_symbol.values() for b in bars if b.ts <= ready})
        steps = steps[:max_steps]
        if not steps:
            return []
        last = steps[-1]
        out = [b for bars in by_symbol.values() for b in bars if b.ts <= last]
        out.sort(key=lambda b: (b.ts, b.symbol))
        self._cursor = last
        return out

    def history(self, until: float, count: int) -> Mapping[str, Sequence[Bar]]:
        after = until - (count + 1) * self._interval
        return {s: self._closed(s, after=after, until=until)[-count:] for s in self._symbols}

    def _closed(self, symbol: str, *, after: float, until: float) -> list[Bar]:
        """Candles closing in ``(after, until]``, oldest first (at most one page)."""
        market = self._market(symbol)
        since_ms = int((after - self._interval) * 1000) + 1
        rows: list[list[Any]] = self._calls.call(
            "fetch_ohlcv",
            lambda: self._calls.client.fetch_ohlcv(
                market.ccxt_symbol, self._timeframe, since=max(since_ms, 0), limit=PAGE
            ),
        )
        bars = []
        for row in rows:
            bar = Bar(
                symbol=symbol,
                ts=float(row[0]) / 1000 + self._interval,
                open=float(row[1]),
                high=float(row[2]),
                low=float(row[3]),
                close=float(row[4]),
                volume=float(row[5] or 0.0),
            )
            if bar.problem() is None and after < bar.ts <= until:
                bars.append(bar)
        return bars

    def _market(self, symbol: str) -> Market:
        if not self._markets:
            self._markets = markets(self._calls, self._symbols, self._market_type)
        return self._markets[symbol]
