"""The one shape market data has inside a bot: closed bars, and the feed that releases them.

Everything downstream (strategies, market state, the ledger's marks) sees only
:class:`Bar` values, so a synthetic path, a CSV replay and a live exchange adapter are
interchangeable behind :class:`Feed`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ...wire import epoch_seconds_problem


class FeedError(ValueError):
    """A feed that cannot be built or read; the message names the field (and line) at fault."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed OHLCV bar.

    ``ts`` is the bar's *close* time in epoch seconds: every number in the bar is known at
    ``ts`` and not before, so "no look-ahead" is simply "use bars with ``ts <= now``". A
    live adapter whose exchange stamps bars with their open time adds the interval.
    """

    symbol: str
    ts: float
    open: float
    high: float
    low: float
    close: float
    volume: float

    def problem(self) -> str | None:
        """Why this bar is not a valid OHLCV bar, or None; one check shared by every feed.

        ``ts`` follows the rule of every timestamp the workers read (:mod:`...wire`):
        epoch seconds, so a recording in milliseconds is refused instead of waiting for
        ever for its first bar.
        """
        for name in ("ts", "open", "high", "low", "close", "volume"):
            if not math.isfinite(getattr(self, name)):
                return f"{name}: {getattr(self, name)!r} is not a finite number"
        unit = epoch_seconds_problem(self.ts, None)
        if unit is not None:
            return f"ts: {unit[1]}"
        for name in ("open", "high", "low", "close"):
            if getattr(self, name) <= 0:
                return f"{name}: {getattr(self, name)!r} must be > 0"
        if self.volume < 0:
            return f"volume: {self.volume!r} must be >= 0"
        if self.high < max(self.open, self.close, self.low):
            return f"high: {self.high!r} is below open, close or low"
        if self.low > min(self.open, self.close):
            return f"low: {self.low!r} is above open or close"
        return None


class Feed(Protocol):
    """A source of closed bars for a fixed set of symbols.

    Contract (every implementation, and any future exchange adapter):

    * **No look-ahead.** :meth:`poll` returns only bars with ``ts <= now``.
    * **Monotone, exactly once.** A feed keeps a cursor (a ts). :meth:`poll` returns the
      bars with ``cursor < ts <= now`` ordered by ``(ts, symbol)`` and moves the cursor to
      the last ts returned, so successive polls never repeat a bar and per symbol the ts
      strictly increase. It returns whole time steps only: every bar sharing a ts comes
      in the same call.
    * **Bounded.** :meth:`poll` never waits longer than ``timeout_s`` (0: not at all) and
      returns at most ``max_steps`` distinct timestamps; a caller behind by more simply
      polls again. Nothing new is an empty sequence, never an error.
    * **Restartable.** :meth:`seek` sets the cursor, so a restarted bot that persisted the
      ts of the last bar it acted on resumes after it (and sees the same bars it would
      have seen had it not stopped); :meth:`history` gives the bars before a ts, so its
      strategies are warm at once instead of after a warm-up period.
    """

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols this feed serves, in a stable order."""
        ...

    @property
    def cursor(self) -> float:
        """The ts of the last bar returned (or the :meth:`seek` position)."""
        ...

    def seek(self, ts: float) -> None:
        """Make the next :meth:`poll` start after ``ts``."""
        ...

    def poll(self, now: float, *, timeout_s: float = 0.0, max_steps: int = 1000) -> Sequence[Bar]:
        """The bars closed in ``(cursor, now]``, oldest first; advances the cursor."""
        ...

    def history(self, until: float, count: int) -> Mapping[str, Sequence[Bar]]:
        """Per symbol, up to ``count`` latest bars with ``ts <= until``, oldest first.

        Does not move the cursor.
        """
        ...
