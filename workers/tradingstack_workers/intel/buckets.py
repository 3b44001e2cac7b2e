"""The bucket layout: per time bucket, four small hashes that make every query cheap.

For a bucket starting at Unix second ``T`` (a multiple of ``bucket_seconds``)::

    <prefix>:p35:bucket:T:decisions          decision -> count  (EXECUTE ... UNKNOWN)
    <prefix>:p35:bucket:T:reasons            reason   -> count  (decisions other than EXECUTE)
    <prefix>:p35:bucket:T:symbols            symbol   -> count  (every decision)
    <prefix>:p35:bucket:T:reasons:SYMBOL     reason   -> count  (that symbol, not EXECUTE)

A window of N buckets is then N HGETALLs per table in one pipeline, whatever the
message rate: queries A, C, D and the alert read ``decisions`` and ``reasons``; B
reads ``symbols`` to find the symbols, then their ``reasons:SYMBOL``.

An entry's bucket is the time in its stream id (when Redis accepted it): one clock
for every writer, and a redelivered entry lands in the same bucket whenever it is
handled, which exactly-once counting needs. Reasons are the gates that stopped a
trade, so an EXECUTE's reason is not counted; shares are of all decisions, so a
desk that trades freely never sees a "dominant gate" made of its few skips.

Each key expires ``bucket_ttl_seconds`` after its bucket closes (EXPIREAT, set from
the bucket's start, so replays and redeliveries set the same deadline).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..keys import Keys


def bucket_of(entry_id: str, bucket_seconds: int) -> int:
    """Start (Unix seconds) of the bucket holding a stream entry, from its id's milliseconds."""
    millis = int(entry_id.partition("-")[0])
    seconds = millis // 1000
    return seconds - seconds % bucket_seconds


def window_starts(now: float, window_seconds: int, bucket_seconds: int) -> list[int]:
    """Bucket starts of the window ending at ``now``: the current bucket and those before it.

    ``ceil(window / bucket)`` buckets, newest first; the current one is still filling,
    so the data spans between ``window - bucket`` and ``window`` seconds.
    """
    current = int(now) - int(now) % bucket_seconds
    count = max(1, math.ceil(window_seconds / bucket_seconds))
    return [current - i * bucket_seconds for i in range(count)]


@dataclass(frozen=True)
class Layout:
    keys: Keys
    bucket_seconds: int = 60
    ttl_seconds: int = 86_400

    def base(self, start: int) -> str:
        return self.keys.intel_bucket(str(start))

    def decisions(self, start: int) -> str:
        return f"{self.base(start)}:decisions"

    def reasons(self, start: int) -> str:
        return f"{self.base(start)}:reasons"

    def symbols(self, start: int) -> str:
        return f"{self.base(start)}:symbols"

    def symbol_reasons(self, start: int, symbol: str) -> str:
        return f"{self.base(start)}:reasons:{symbol}"

    def expire_at(self, start: int) -> int:
        return start + self.bucket_seconds + self.ttl_seconds


def _add(into: dict[str, int], counts: Mapping[str, str | int]) -> None:
    for name, count in counts.items():
        into[name] = into.get(name, 0) + int(count)


@dataclass(frozen=True)
class Window:
    """Counts summed over a window's buckets: what every query and the alert read."""

    #: Bucket starts, newest first.
    starts: Sequence[int]
    bucket_seconds: int
    decisions: Mapping[str, int] = field(default_factory=dict)
    reasons: Mapping[str, int] = field(default_factory=dict)
    symbols: Mapping[str, int] = field(default_factory=dict)
    symbol_reasons: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.decisions.values())

    @property
    def start(self) -> int:
        return min(self.starts)

    @property
    def end(self) -> int:
        return max(self.starts) + self.bucket_seconds

    @classmethod
    def sum(
        cls,
        starts: Sequence[int],
        bucket_seconds: int,
        *,
        decisions: Sequence[Mapping[str, str | int]],
        reasons: Sequence[Mapping[str, str | int]],
        symbols: Sequence[Mapping[str, str | int]] = (),
        symbol_reasons: Mapping[str, Sequence[Mapping[str, str | int]]] | None = None,
    ) -> Window:
        """Add up per-bucket hashes (as HGETALL returns them) into one window."""
        tables: list[dict[str, int]] = [{}, {}, {}]
        for table, per_bucket in zip(tables, (decisions, reasons, symbols), strict=True):
            for counts in per_bucket:
                _add(table, counts)
        by_symbol: dict[str, dict[str, int]] = {}
        for symbol, per_bucket in (symbol_reasons or {}).items():
            for counts in per_bucket:
                _add(by_symbol.setdefault(symbol, {}), counts)
        decided, reasoned, seen = tables
        return cls(list(starts), bucket_seconds, decided, reasoned, seen, by_symbol)
