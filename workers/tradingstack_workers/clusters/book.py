"""Every symbol's sampled price history as arrays, aligned in one step (numpy, pure).

A symbol's history is its last ``lookback`` points, oldest first: the sampling cycle's
time (``key``, the alignment key), the mark price and the snapshot time it came from.
The book holds all of them in three ``(symbols, 2 * lookback)`` arrays, one row per
symbol, each row's points in the columns ``[start, end)``: a cycle appends one column
to the rows that got a point, and a row is moved back to column 0 only when it reaches
the end, so appending costs one vectorised write per cycle and the copy is amortised
over ``lookback`` cycles. No point is ever an object of its own (issue #18: at 1000
symbols x 360 points, building and walking per-point objects cost more than the maths).

Alignment: when every row holds the same keys (each symbol got a point in each cycle,
the usual case) the price matrix is one slice of the book; otherwise the keys every
symbol shares are found by :func:`.correlation.shared_keys`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from .correlation import FailClosed, FailReason, Matrix, shared_keys

Vector = NDArray[np.float64]


class PriceBook:
    """The sampled histories of any number of symbols, at most ``lookback`` points each.

    Keys rise strictly within a row: a point at a symbol's last key replaces that point
    (a retried cycle), one before it is refused with ``ValueError`` (the worker never
    samples into the past).
    """

    def __init__(self, lookback: int) -> None:
        if lookback < 1:
            raise ValueError(f"lookback {lookback} is less than 1")
        self.lookback = lookback
        self._capacity = 2 * lookback
        self._row: dict[str, int] = {}
        self._key = np.empty((0, self._capacity))
        self._price = np.empty((0, self._capacity))
        self._snapshot_ts = np.empty((0, self._capacity))
        self._start = np.zeros(0, dtype=np.intp)
        self._end = np.zeros(0, dtype=np.intp)

    # -- reading ---------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        return list(self._row)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._row

    def __len__(self) -> int:
        return len(self._row)

    def counts(self) -> dict[str, int]:
        """Points held per symbol."""
        held = len(self._row)
        lengths = (self._end[:held] - self._start[:held]).tolist()
        return dict(zip(self._row, lengths, strict=True))

    def length(self, symbol: str) -> int:
        row = self._row.get(symbol)
        return 0 if row is None else int(self._end[row] - self._start[row])

    def window(self, symbol: str) -> tuple[Vector, Vector, Vector]:
        """Keys, prices and snapshot times of ``symbol``, oldest first (read-only views)."""
        row = self._row.get(symbol)
        if row is None:
            empty = np.empty(0)
            return empty, empty, empty
        cut = slice(self._start[row], self._end[row])
        views = (self._key[row, cut], self._price[row, cut], self._snapshot_ts[row, cut])
        for view in views:
            view.flags.writeable = False
        return views

    def _rows_of(self, symbols: Sequence[str]) -> NDArray[np.intp]:
        """Row of each symbol, -1 for a symbol not held."""
        get = self._row.get
        return np.fromiter((get(s, -1) for s in symbols), np.intp, len(symbols))

    def _lengths(self, rows: NDArray[np.intp]) -> NDArray[np.intp]:
        """Points held in each row, 0 for -1 (a symbol not held)."""
        if not len(self._end):
            return np.zeros(len(rows), dtype=np.intp)
        lengths: NDArray[np.intp] = np.where(rows >= 0, self._end[rows] - self._start[rows], 0)
        return lengths

    def last(self, symbols: Sequence[str]) -> tuple[Vector, Vector]:
        """Each symbol's last key and snapshot time, NaN for a symbol without points."""
        keys, stamps = np.full(len(symbols), np.nan), np.full(len(symbols), np.nan)
        if not self._row:
            return keys, stamps
        rows = self._rows_of(symbols)
        held = np.flatnonzero(self._lengths(rows))
        at = self._end[rows[held]] - 1
        keys[held] = self._key[rows[held], at]
        stamps[held] = self._snapshot_ts[rows[held], at]
        return keys, stamps

    def at_key(self, key: float) -> tuple[list[str], Vector, Vector]:
        """The symbols whose last point sits at ``key`` (a cycle's samples), with those
        points' prices and snapshot times."""
        held = len(self._row)
        end = self._end[:held]
        rows = np.flatnonzero(
            (end > self._start[:held]) & (self._key[np.arange(held), end - 1] == key)
        )
        names = list(self._row)
        at = self._end[rows] - 1
        return [names[i] for i in rows.tolist()], self._price[rows, at], self._snapshot_ts[rows, at]

    def oldest_key(self, live_since: float) -> float:
        """The oldest key held by a symbol whose last point is at or after ``live_since``
        (infinity when none is): older points serve no symbol still traded."""
        held = len(self._row)
        start, end = self._start[:held], self._end[:held]
        rows = np.flatnonzero(end > start)
        live = rows[self._key[rows, end[rows] - 1] >= live_since]
        return float(self._key[live, start[live]].min()) if len(live) else math.inf

    # -- writing ---------------------------------------------------------------------

    def put(self, symbol: str, keys: Vector, prices: Vector, snapshot_ts: Vector) -> None:
        """Replace ``symbol``'s history by these points (strictly rising keys), keeping the
        last ``lookback`` of them."""
        keys, prices, snapshot_ts = (
            np.asarray(a, dtype=np.float64) for a in (keys, prices, snapshot_ts)
        )
        if not len(keys) == len(prices) == len(snapshot_ts):
            raise ValueError("keys, prices and snapshot times differ in length")
        if np.any(np.diff(keys) <= 0):
            raise ValueError(f"{symbol}: keys do not rise strictly")
        keep = slice(max(0, len(keys) - self.lookback), len(keys))
        row = self._rows([symbol])[0]
        n = keep.stop - keep.start
        self._key[row, :n] = keys[keep]
        self._price[row, :n] = prices[keep]
        self._snapshot_ts[row, :n] = snapshot_ts[keep]
        self._start[row], self._end[row] = 0, n

    def append(
        self, symbols: Sequence[str], key: float, prices: Vector, snapshot_ts: Vector
    ) -> None:
        """One point at ``key`` for each of ``symbols`` (a sampling cycle)."""
        if not symbols:
            return
        rows = self._rows(symbols)
        held = self._end[rows] > self._start[rows]
        last = np.where(held, self._key[rows, np.maximum(self._end[rows] - 1, 0)], -np.inf)
        if np.any(last > key):
            late = symbols[int(np.argmax(last > key))]
            raise ValueError(f"{late}: a point at {key!r} is older than the last one")
        # A retried cycle overwrites its own point instead of adding a second one.
        self._end[rows] -= last == key
        self._compact(rows[self._end[rows] == self._capacity])
        at = self._end[rows]
        self._key[rows, at] = key
        self._price[rows, at] = prices
        self._snapshot_ts[rows, at] = snapshot_ts
        self._end[rows] += 1
        self._start[rows] = np.maximum(self._start[rows], self._end[rows] - self.lookback)

    def _rows(self, symbols: Sequence[str]) -> NDArray[np.intp]:
        """Row of each symbol, adding rows for symbols not held yet."""
        for symbol in symbols:
            if symbol not in self._row:
                if len(self._row) == len(self._start):
                    self._grow()
                self._row[symbol] = len(self._row)
        return np.fromiter((self._row[s] for s in symbols), np.intp, len(symbols))

    def _grow(self) -> None:
        """Double the rows (at least 16), so adding symbols one by one stays linear."""
        rows = max(16, 2 * len(self._start))
        more = rows - len(self._start)
        pad = np.full((more, self._capacity), np.nan)
        self._key = np.concatenate([self._key, pad])
        self._price = np.concatenate([self._price, pad])
        self._snapshot_ts = np.concatenate([self._snapshot_ts, pad])
        self._start = np.concatenate([self._start, np.zeros(more, dtype=np.intp)])
        self._end = np.concatenate([self._end, np.zeros(more, dtype=np.intp)])

    def _compact(self, rows: NDArray[np.intp]) -> None:
        """Move full rows' points back to column 0 (their count is at most ``lookback``)."""
        if not len(rows):
            return
        n = self.lookback - 1  # a full row keeps room for the point being appended
        for array in (self._key, self._price, self._snapshot_ts):
            array[rows, :n] = array[rows, self._capacity - n :]
        self._start[rows] = 0
        self._end[rows] = n

    # -- deciding ------------------------------------------------------------------

    def aligned_prices(
        self, symbols: Sequence[str], *, lookback: int, min_points: int
    ) -> Matrix | FailClosed:
        """Prices as a (points x symbols) matrix on the last ``lookback`` keys all
        ``symbols`` share; :class:`FailClosed` when a symbol or the shared window is short."""
        rows = self._rows_of(symbols)
        lengths = self._lengths(rows)
        short = np.flatnonzero(lengths < min_points)
        if len(short):
            first = int(short[0])
            return FailClosed(
                FailReason.TOO_SHORT,
                f"{symbols[first]} has {int(lengths[first])} points, {min_points} needed",
            )
        matrix = self._same_keys(rows, lookback)
        if matrix is None:
            matrix = self._on_shared_keys(symbols, lookback)
        if len(matrix) < min_points:
            return FailClosed(
                FailReason.MISALIGNED,
                f"{len(matrix)} points shared by all {len(symbols)} symbols, {min_points} needed",
            )
        if not np.all(np.isfinite(matrix)) or np.any(matrix <= 0):
            return FailClosed(FailReason.NAN, "a price is NaN, infinite or not positive")
        return matrix

    def _same_keys(self, rows: NDArray[np.intp], lookback: int) -> Matrix | None:
        """The matrix as one slice when every row holds the same keys in the same columns."""
        if not len(rows):
            return np.empty((0, 0))
        start, end = self._start[rows], self._end[rows]
        if np.any(start != start[0]) or np.any(end != end[0]):
            return None
        cut = slice(max(int(start[0]), int(end[0]) - lookback), int(end[0]))
        # Rows in a run (the book adds symbols in the order they come, sorted): a view,
        # not a copy, until the one transposing copy the matrix needs anyway.
        first = int(rows[0])
        run = np.array_equal(rows, np.arange(first, first + len(rows)))
        block = slice(first, first + len(rows)) if run else rows
        keys = self._key[block, cut]
        if not np.all(keys == keys[:1]):
            return None
        matrix: Matrix = np.ascontiguousarray(self._price[block, cut].T)
        return matrix

    def _on_shared_keys(self, symbols: Sequence[str], lookback: int) -> Matrix:
        windows = [self.window(s) for s in symbols]
        shared = shared_keys([keys for keys, _, _ in windows])[-lookback:]
        columns = [prices[np.searchsorted(keys, shared)] for keys, prices, _ in windows]
        return np.column_stack(columns) if columns else np.empty((0, 0))

    def unchanged_since(self, symbols: Iterable[str]) -> dict[str, float]:
        """For each of ``symbols`` holding points: the key at which the last run of equal
        prices began (the symbol's price has not changed since).

        A symbol whose last two prices differ began its run at its last point: most
        symbols, every cycle, read from two columns; only the others are searched.
        """
        asked = list(symbols)
        rows = self._rows_of(asked)
        keep = np.flatnonzero(self._lengths(rows))
        if not len(keep):
            return {}
        held = [asked[i] for i in keep.tolist()]
        rows = rows[keep]
        start, end = self._start[rows], self._end[rows]
        last = self._price[rows, end - 1]
        before = self._price[rows, np.maximum(end - 2, 0)]
        moved = (end - start >= 2) & (before != last)
        since = self._key[rows, end - 1]
        still = np.flatnonzero(~moved)
        if len(still):
            since[still] = self._run_start(rows[still])
        return dict(zip(held, since.tolist(), strict=True))

    def _run_start(self, rows: NDArray[np.intp]) -> Vector:
        """Key at which each row's last run of equal prices began (rows holding points)."""
        start, end = self._start[rows], self._end[rows]
        columns = np.arange(int(start.min()), int(end.max()))
        prices = self._price[rows, columns[0] : columns[-1] + 1]
        inside = (columns >= start[:, None]) & (columns < end[:, None])
        last = self._price[rows, end - 1]
        changed = inside & (prices != last[:, None])
        latest_change = np.where(changed, columns, -1).max(axis=1)
        first_equal = np.maximum(latest_change + 1, start)
        began: Vector = self._key[rows, first_equal]
        return began


def from_points(points: Mapping[str, Sequence[tuple[float, float]]], lookback: int) -> PriceBook:
    """A book from ``(key, price)`` pairs per symbol (snapshot time = key), for tests and
    benchmarks that craft histories."""
    book = PriceBook(lookback)
    for symbol, pairs in points.items():
        array = np.array(pairs, dtype=np.float64).reshape(-1, 2)
        book.put(symbol, array[:, 0], array[:, 1], array[:, 0])
    return book
