"""A synthetic market: correlated geometric Brownian motion, a pure function of
(seed, config, bar index).

Bar ``i >= 1`` covers ``(origin + (i-1)*interval, origin + i*interval]`` and carries that
close time as its ts. Log prices are::

    X_s(i) = ln(start_s) + (drift_s - vol_s**2 / 2) * i * dt + vol_s * sqrt(dt) * B_s(i)

with ``dt`` the interval in years and ``B_s`` the correlated Brownian noise of
:mod:`.correlation`. Open is the previous close; high and low are drawn from the exact
law of a Brownian bridge's maximum and minimum between open and close (each exact on
its own; the two are drawn independently). Because any bar is computed from its index
alone, a restarted bot that seeks to its last ts continues the very same market, and
the origin can sit in the past so history is there for warm-up from the first cycle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .brownian import HORIZON, Ints, brownian, normals, stream_key, uniforms
from .correlation import Loadings, from_factors, from_matrix, independent
from .feed import Bar, FeedError
from .synthetic_config import SyntheticConfig

YEAR_SECONDS = 365.0 * 86400.0


def loadings_of(config: SyntheticConfig) -> Loadings:
    """The config's validated loadings; raises :class:`FeedError` naming what is wrong."""
    if config.correlation is not None:
        return from_matrix(config.symbols, config.correlation)
    if config.factors is not None:
        return from_factors(config.symbols, config.factors)
    return independent(config.symbols)


class SyntheticFeed:
    """A :class:`~.feed.Feed` over a :class:`SyntheticConfig`; it never blocks."""

    def __init__(self, config: SyntheticConfig) -> None:
        self.config = config
        loadings = loadings_of(config)
        self._matrix = loadings.matrix
        seed = config.seed
        self._driver_keys = [stream_key(seed, name) for name in loadings.drivers]
        self._high_keys = [stream_key(seed, f"high:{s}") for s in config.symbols]
        self._low_keys = [stream_key(seed, f"low:{s}") for s in config.symbols]
        self._volume_keys = [stream_key(seed, f"volume:{s}") for s in config.symbols]
        dt = config.interval_s / YEAR_SECONDS
        paths = [config.path(s) for s in config.symbols]
        self._log_start = np.array([math.log(p.start_price) for p in paths])
        self._bar_sigma = np.array([p.volatility * math.sqrt(dt) for p in paths])
        self._bar_drift = np.array([(p.drift - p.volatility**2 / 2.0) * dt for p in paths])
        self._volume = np.array([p.volume for p in paths])
        self._cursor = config.origin_ts

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.config.symbols

    @property
    def cursor(self) -> float:
        return self._cursor

    def bar_ts(self, index: int) -> float:
        return self.config.origin_ts + index * self.config.interval_s

    def index_at(self, ts: float) -> int:
        """The last bar index whose close time is ``<= ts`` (0: no bar closed yet)."""
        if ts < self.config.origin_ts:
            return 0
        i = min(HORIZON, math.floor((ts - self.config.origin_ts) / self.config.interval_s))
        # Guard the float division at exact boundaries: the comparison is the definition.
        while i < HORIZON and self.bar_ts(i + 1) <= ts:
            i += 1
        while i > 0 and self.bar_ts(i) > ts:
            i -= 1
        return i

    def bars(self, first: int, last: int) -> list[Bar]:
        """Bars ``first..last`` (inclusive, 1-based), ordered by (index, symbol)."""
        if first < 1 or last > HORIZON:
            raise FeedError(f"bar indices must lie in [1, {HORIZON}], got {first}..{last}")
        if last < first:
            return []
        idx: Ints = np.arange(first - 1, last + 1, dtype=np.int64)
        noise = np.vstack([brownian(key, idx) for key in self._driver_keys])
        log_px = (
            self._log_start[:, None]
            + self._bar_drift[:, None] * idx[None, :]
            + self._bar_sigma[:, None] * (self._matrix @ noise)
        )
        o, c = log_px[:, :-1], log_px[:, 1:]
        bars_idx = idx[1:]
        var = self._bar_sigma[:, None] ** 2
        u_high = np.vstack([uniforms(k, bars_idx) for k in self._high_keys])
        u_low = np.vstack([uniforms(k, bars_idx) for k in self._low_keys])
        high = 0.5 * (o + c + np.sqrt((c - o) ** 2 - 2.0 * var * np.log(u_high)))
        low = 0.5 * (o + c - np.sqrt((c - o) ** 2 - 2.0 * var * np.log(u_low)))
        z = np.vstack([normals(k, bars_idx) for k in self._volume_keys])
        volume = self._volume[:, None] * np.exp(0.5 * z - 0.125)
        o, c, high, low = np.exp(o), np.exp(c), np.exp(high), np.exp(low)
        out: list[Bar] = []
        for j, i in enumerate(bars_idx.tolist()):
            ts = self.bar_ts(i)
            for s, symbol in enumerate(self.config.symbols):
                out.append(
                    Bar(
                        symbol=symbol,
                        ts=ts,
                        open=float(o[s, j]),
                        # exp() rounding can put an extreme a hair inside open or close.
                        high=float(max(high[s, j], o[s, j], c[s, j])),
                        low=float(min(low[s, j], o[s, j], c[s, j])),
                        close=float(c[s, j]),
                        volume=float(volume[s, j]),
                    )
                )
        return out

    def seek(self, ts: float) -> None:
        self._cursor = ts

    def poll(self, now: float, *, timeout_s: float = 0.0, max_steps: int = 1000) -> Sequence[Bar]:
        first = self.index_at(self._cursor) + 1
        last = min(self.index_at(now), first + max_steps - 1)
        if last < first:
            return []
        self._cursor = self.bar_ts(last)
        return self.bars(first, last)

    def history(self, until: float, count: int) -> Mapping[str, Sequence[Bar]]:
        last = self.index_at(until)
        grouped: dict[str, list[Bar]] = {s: [] for s in self.symbols}
        for bar in self.bars(max(1, last - count + 1), last) if count > 0 else []:
            grouped[bar.symbol].append(bar)
        return grouped
