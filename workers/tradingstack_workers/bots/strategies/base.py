"""The strategy interface: closed bars of one symbol in, at most one signal out.

A strategy is a pure function of the bars it is given: no position, no clock, no I/O.
That is what lets a restarted or promoted standby bot reach the same signals as the
instance it replaces, given the same window of bars (``history_bars`` of them).

Signals are *events* (a crossing on the last bar), not levels: the same condition
persisting for ten bars yields one signal, on the bar it began. ``side`` names the
position the strategy now wants: BUY long, SELL short, EXIT flat; an execution layer
that cannot short treats SELL as EXIT, and an EXIT while flat is a no-op.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, Literal, Protocol, Self, TypeVar, cast

import numpy as np
import numpy.typing as npt

from ..marketdata.feed import Bar
from .params import StrategyParams

Side = Literal["BUY", "SELL", "EXIT"]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Signal:
    """What a strategy wants after the bar at ``ts``.

    ``reason`` is a short stable code (one of a few per strategy: fine as a metric label
    or a "top reasons" bucket); ``detail`` is the sentence with the figures, for logs.
    ``strength`` in [0, 1] says how decisively the rule fired (strategy-specific, see
    each rule); sizing may use it, nothing requires it.
    """

    symbol: str
    ts: float
    side: Side
    reason: str
    strength: float
    detail: str = ""


class Strategy(Protocol):
    @property
    def name(self) -> str:
        """The strategy's settings name, e.g. ``bollinger_bounce``."""
        ...

    @property
    def min_bars(self) -> int:
        """Fewer bars than this and :meth:`on_bars` returns None (warm-up)."""
        ...

    @property
    def history_bars(self) -> int:
        """How many latest bars the caller should pass (and keep after a restart)."""
        ...

    def on_bars(self, history: Sequence[Bar]) -> Signal | None:
        """The signal on the last bar of ``history`` (one symbol, oldest first), or None."""
        ...


P = TypeVar("P", bound=StrategyParams)


@dataclass(frozen=True)
class ParamStrategy(ABC, Generic[P]):
    """What every shipped strategy shares: validated parameters, and a history of exactly
    ``min_bars`` bars unless a subclass needs a longer one (``history_bars``).

    A subclass sets ``name`` and ``Params`` (its pydantic model) and defines ``min_bars``
    and ``on_bars``; :meth:`recent` gives ``on_bars`` its window as arrays.
    """

    params: P
    name: ClassVar[str]
    Params: ClassVar[type[StrategyParams]]

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Self:
        """Validated (pydantic ValidationError otherwise); defaults fill the rest."""
        return cls(cast(P, cls.Params.model_validate(dict(params))))

    @property
    @abstractmethod
    def min_bars(self) -> int:
        """Fewer bars than this and :meth:`on_bars` returns None (warm-up)."""

    @property
    def history_bars(self) -> int:
        return self.min_bars

    @abstractmethod
    def on_bars(self, history: Sequence[Bar]) -> Signal | None:
        """The signal on the last bar of ``history`` (one symbol, oldest first), or None."""

    def recent(self, history: Sequence[Bar]) -> Series | None:
        """The last ``history_bars`` bars as arrays; None while fewer than ``min_bars``."""
        if len(history) < self.min_bars:
            return None
        return series(history[-self.history_bars :])


@dataclass(frozen=True)
class Series:
    """One symbol's bars as arrays, checked once for the shape every rule assumes."""

    symbol: str
    ts: float
    high: Floats
    low: Floats
    close: Floats


def series(history: Sequence[Bar]) -> Series:
    """Arrays of ``history``; ValueError if it mixes symbols or its ts do not increase
    (either would be a caller's bug that silently corrupts every indicator)."""
    last = history[-1]
    if any(bar.symbol != last.symbol for bar in history):
        raise ValueError(f"history: mixes symbols; expected only {last.symbol}")
    ts = np.fromiter((bar.ts for bar in history), dtype=np.float64, count=len(history))
    if len(ts) > 1 and not bool(np.all(np.diff(ts) > 0)):
        raise ValueError(f"history: {last.symbol} bars are not in strictly increasing ts order")
    return Series(
        symbol=last.symbol,
        ts=last.ts,
        high=np.fromiter((b.high for b in history), dtype=np.float64, count=len(history)),
        low=np.fromiter((b.low for b in history), dtype=np.float64, count=len(history)),
        close=np.fromiter((b.close for b in history), dtype=np.float64, count=len(history)),
    )


def crossed_above(prev: float, prev_level: float, now: float, level: float) -> bool:
    """Strictly below the level on the previous bar, at or above it on this one."""
    return prev < prev_level and now >= level


def crossed_below(prev: float, prev_level: float, now: float, level: float) -> bool:
    """Strictly above the level on the previous bar, at or below it on this one."""
    return prev > prev_level and now <= level


def unit(x: float) -> float:
    """Clamp to [0, 1]; NaN (a zero-width band) counts as 0."""
    return 0.0 if math.isnan(x) else min(1.0, max(0.0, x))
