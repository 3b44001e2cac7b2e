"""Replay of recorded OHLCV bars from CSV (header ``ts,symbol,open,high,low,close,volume``).

``ts`` is the bar's close time: epoch seconds, or ISO 8601 with a zone (``Z`` or an
offset); a naive time is refused rather than guessed. Every row is validated when the
file is read, so a bad file fails at start with its line number, never mid-replay.

Replay time: with ``start_ts`` set, the recording is shifted (and divided by ``speed``)
so that its first bar closes at ``start_ts``; the bars then carry the shifted ts, and the
bot's clock, market-data age and cursor all speak one time. Without it the recorded
times are used as they are (a backtest drives ``now`` itself).
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from ...wire.fields import ascii_float
from .feed import Bar, FeedError

COLUMNS = ("ts", "symbol", "open", "high", "low", "close", "volume")


def _timestamp(text: str) -> float:
    try:
        return ascii_float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither epoch seconds nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (add Z or an offset)")
    return moment.timestamp()


def _number(text: str) -> float:
    try:
        return ascii_float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def parse_csv(lines: Iterable[str], source: str = "<csv>") -> list[Bar]:
    """Validated bars in file order; :class:`FeedError` names ``source:line: field``."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise FeedError(f"{source}: empty file; expected header {','.join(COLUMNS)}")
    names = [h.strip().lower() for h in header]
    if sorted(names) != sorted(COLUMNS):
        raise FeedError(f"{source}:1: header {','.join(names)}; expected {','.join(COLUMNS)}")
    where = {name: names.index(name) for name in COLUMNS}
    bars: list[Bar] = []
    seen: dict[tuple[str, float], int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(COLUMNS):
            raise FeedError(f"{source}:{line}: {len(row)} fields, expected {len(COLUMNS)}")
        cells = {name: row[i].strip() for name, i in where.items()}
        values: dict[str, float] = {}
        for name in COLUMNS:
            if name == "symbol":
                continue
            try:
                values[name] = _timestamp(cells[name]) if name == "ts" else _number(cells[name])
            except ValueError as exc:
                raise FeedError(f"{source}:{line}: {name}: {exc}") from None
        if not cells["symbol"]:
            raise FeedError(f"{source}:{line}: symbol: empty")
        bar = Bar(symbol=cells["symbol"], **values)
        problem = bar.problem()
        if problem is not None:
            raise FeedError(f"{source}:{line}: {problem}")
        key = (bar.symbol, bar.ts)
        if key in seen:
            raise FeedError(
                f"{source}:{line}: ts: {bar.symbol} at {bar.ts} already on line {seen[key]}"
            )
        seen[key] = line
        bars.append(bar)
    return bars


class CsvReplayFeed:
    """A :class:`~.feed.Feed` over recorded bars, replayed in ts order; it never blocks."""

    def __init__(
        self,
        bars: Sequence[Bar],
        *,
        symbols: Sequence[str] | None = None,
        start_ts: float | None = None,
        speed: float = 1.0,
    ) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise FeedError(f"speed: {speed} must be a positive number")
        wanted = tuple(symbols) if symbols is not None else tuple(sorted({b.symbol for b in bars}))
        missing = sorted(set(wanted) - {b.symbol for b in bars})
        if missing:
            raise FeedError(f"symbols: no bars for {', '.join(missing)} in the recording")
        kept = sorted((b for b in bars if b.symbol in wanted), key=lambda b: (b.ts, b.symbol))
        if start_ts is not None and kept:
            first = kept[0].ts
            kept = [_shifted(b, start_ts + (b.ts - first) / speed) for b in kept]
        self._symbols = wanted
        self._bars = kept
        self._ts = [b.ts for b in kept]
        self._cursor = -math.inf

    @classmethod
    def from_path(
        cls,
        path: Path,
        *,
        symbols: Sequence[str] | None = None,
        start_ts: float | None = None,
        speed: float = 1.0,
    ) -> CsvReplayFeed:
        """Read and validate the whole file once, at start. Raises :class:`FeedError`
        naming the file and the field (or line)."""
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                bars = parse_csv(handle, source=str(path))
        except OSError as exc:
            raise FeedError(f"{path}: cannot read: {exc.strerror}") from None
        try:
            return cls(bars, symbols=symbols, start_ts=start_ts, speed=speed)
        except FeedError as exc:  # which recording lacks the symbols
            raise FeedError(f"{path}: {exc}") from None

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def cursor(self) -> float:
        return self._cursor

    @property
    def first_ts(self) -> float | None:
        """When the first bar to replay closes (after any shift); None for no bars."""
        return self._ts[0] if self._ts else None

    @property
    def exhausted(self) -> bool:
        """True once every recorded bar has been returned."""
        return not self._ts or self._cursor >= self._ts[-1]

    def seek(self, ts: float) -> None:
        self._cursor = ts

    def poll(self, now: float, *, timeout_s: float = 0.0, max_steps: int = 1000) -> Sequence[Bar]:
        start = bisect.bisect_right(self._ts, self._cursor)
        stop = bisect.bisect_right(self._ts, now)
        if stop <= start:
            return []
        steps = sorted(set(self._ts[start:stop]))
        if len(steps) > max_steps:
            stop = bisect.bisect_right(self._ts, steps[max_steps - 1])
        out = self._bars[start:stop]
        self._cursor = out[-1].ts
        return out

    def history(self, until: float, count: int) -> Mapping[str, Sequence[Bar]]:
        stop = bisect.bisect_right(self._ts, until)
        grouped: dict[str, list[Bar]] = {s: [] for s in self._symbols}
        for bar in self._bars[:stop]:
            grouped[bar.symbol].append(bar)
        return {s: bars[-count:] if count > 0 else [] for s, bars in grouped.items()}


def _shifted(bar: Bar, ts: float) -> Bar:
    return Bar(bar.symbol, ts, bar.open, bar.high, bar.low, bar.close, bar.volume)
