"""The sampled price histories persisted in Redis, so a restarted pod computes at once.

One sorted set (``Keys.price_history``) with one member per sampling cycle: score = the
cycle's time (the key that aligns symbols), member = that cycle's points as one row,
:func:`.rows.encode_row`. A cycle writes its row in one command (at 1000 symbols, one ZADD per
symbol cost 5 ms of Redis and 2 ms of Python a cycle, issue #18): first removing a row
at the same score (a cycle run again), then dropping the rows older than every point a
live symbol still holds, and refreshing the key's TTL, in one fenced write that a retry
repeats to the same end. In memory the histories are a :class:`.book.PriceBook` (arrays,
no object per point).

A symbol's history expires ``ttl_seconds`` after its last point, as when each symbol had
a sorted set of its own with that TTL (the format before this one, ``Keys.
legacy_price_history``): such a symbol no longer holds rows back, and is not loaded.
Histories in that format still load, merged with the rows; the next write moves them
into rows and deletes them (:meth:`HistoryStore.rewrite_commands`).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import redis
from numpy.typing import NDArray

from ..keys import Keys
from ..runtime.once import Command
from ..runtime.redis_client import RetryPolicy
from ..runtime.symbol_scan import scan_symbols
from .book import PriceBook, Vector
from .rows import Row, decode_row, encode_row, parse_member

log = logging.getLogger(__name__)

#: Legacy per-symbol sets read per pipeline at load (bounds the replies held at once).
LOAD_CHUNK = 100
#: Rows per ZADD, keys per DEL, when the whole history is rewritten (the fenced script
#: unpacks each command's arguments onto Lua's stack).
REWRITE_CHUNK = 100


@dataclass(frozen=True)
class Loaded:
    """What :meth:`HistoryStore.load` found: the book, and the legacy per-symbol sets it
    read (keys to move into rows and delete)."""

    book: PriceBook
    legacy: tuple[str, ...]


class _Points:
    """Points gathered from rows and legacy sets, made a book in one sort."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.parts: list[tuple[NDArray[np.intp], Vector, Vector, Vector, int]] = []
        # Consecutive rows mostly name the same symbols: their ids are looked up once.
        self._ids: dict[tuple[str, ...], NDArray[np.intp]] = {}

    def add(self, symbols: Sequence[str], keys: Vector, prices: Vector, stamps: Vector,
            rank: int) -> None:  # fmt: skip
        named = tuple(symbols)
        ids = self._ids.get(named)
        if ids is None:
            get = self.index.setdefault
            ids = np.fromiter((get(s, len(self.index)) for s in named), np.intp, len(named))
            self._ids[named] = ids
        self.parts.append((ids, keys, prices, stamps, rank))

    def book(self, lookback: int, live_since: float) -> PriceBook:
        """Each symbol's last ``lookback`` points, oldest first; at a key held twice, the
        higher ``rank``'s point. Symbols whose last point is before ``live_since`` are
        left out (expired)."""
        book = PriceBook(lookback)
        if not self.parts:
            return book
        ids, keys, prices, stamps = (np.concatenate([p[i] for p in self.parts]) for i in range(4))
        ranks = np.concatenate([np.full(len(p[0]), p[4]) for p in self.parts])
        order = np.lexsort((ranks, keys, ids))
        ids, keys, prices, stamps = ids[order], keys[order], prices[order], stamps[order]
        # Of points sharing a symbol and a key, the last (highest rank) stays.
        last = np.ones(len(ids), dtype=bool)
        last[:-1] = (ids[1:] != ids[:-1]) | (keys[1:] != keys[:-1])
        ids, keys, prices, stamps = ids[last], keys[last], prices[last], stamps[last]
        bounds = np.flatnonzero(np.diff(ids)) + 1
        names = list(self.index)
        for cut in np.split(np.arange(len(ids)), bounds):
            if len(cut) and keys[cut[-1]] >= live_since:
                book.put(names[ids[cut[0]]], keys[cut], prices[cut], stamps[cut])
        return book


class HistoryStore:
    """Loads and writes the persisted histories; every Redis call goes through ``retry``."""

    def __init__(
        self,
        client: redis.Redis,
        retry: RetryPolicy,
        keys: Keys,
        *,
        lookback: int,
        ttl_seconds: float,
    ) -> None:
        self._client = client
        self._retry = retry
        self._keys = keys
        self._lookback = lookback
        self._ttl_seconds = ttl_seconds
        self._ttl_ms = max(1, int(ttl_seconds * 1000))

    def load(self, allow: Iterable[str] = (), *, now: float) -> Loaded:
        """Every stored history live at ``now`` (only ``allow``'s symbols when given),
        from the rows and any legacy per-symbol sets, oldest point first."""
        allowed = set(allow)
        points = _Points()
        rows = cast(
            "list[tuple[str, float]]",
            self._retry.run(
                lambda: self._client.zrange(self._keys.price_history, 0, -1, withscores=True),
                "load price history",
            ),
        )
        unreadable = 0
        for member, score in rows:
            row = decode_row(member, score)
            if row is None:
                unreadable += 1
                continue
            if allowed:
                keep = [i for i, s in enumerate(row.symbols) if s in allowed]
                row = Row(row.key, [row.symbols[i] for i in keep], row.prices[keep],
                          row.snapshot_ts[keep])  # fmt: skip
            keys = np.full(len(row.symbols), row.key)
            points.add(row.symbols, keys, row.prices, row.snapshot_ts, 1)
        if unreadable:
            log.warning("unreadable history rows dropped", extra={"rows": unreadable})
        legacy = self._load_legacy(allowed, points)
        live_since = now - self._ttl_seconds
        return Loaded(points.book(self._lookback, live_since), legacy)

    def _load_legacy(self, allowed: set[str], points: _Points) -> tuple[str, ...]:
        """Read the per-symbol sets of the format before rows into ``points`` (a row wins
        a key both hold); the keys read."""
        keys = self._keys
        scanned = scan_symbols(
            self._client, self._retry, keys.legacy_price_history(""),
            keys.legacy_price_history_pattern,
        )  # fmt: skip
        symbols = scanned.only(allowed)
        names = [keys.legacy_price_history(symbol) for symbol in symbols]
        for at in range(0, len(names), LOAD_CHUNK):
            chunk = names[at : at + LOAD_CHUNK]

            def read(chunk: list[str] = chunk) -> list[list[tuple[str, float]]]:
                pipe = self._client.pipeline(transaction=False)
                for name in chunk:
                    pipe.zrange(name, -self._lookback, -1, withscores=True)
                return list(pipe.execute())

            replies = self._retry.run(read, "load legacy price histories")
            for symbol, members in zip(symbols[at : at + LOAD_CHUNK], replies, strict=True):
                parsed = [p for p in (parse_member(m, score) for m, score in members) if p]
                if len(parsed) < len(members):
                    log.warning("unreadable history points dropped", extra={"symbol": symbol})
                array = np.array(parsed, dtype=np.float64).reshape(-1, 3)
                points.add([symbol] * len(array), array[:, 0], array[:, 1], array[:, 2], 0)
        return tuple(names)

    def append_commands(self, book: PriceBook, key: float) -> list[Command]:
        """Commands storing the row of cycle ``key`` as ``book`` holds it (every symbol
        whose last point is at ``key``), replacing a row stored at ``key`` before; the
        rows older than every point a live symbol holds are dropped and the TTL
        refreshed. Idempotent: a retry leaves the same set. No command when no symbol
        has a point at ``key``."""
        symbols, prices, stamps = book.at_key(key)
        if not symbols:
            return []
        history, score = self._keys.price_history, repr(float(key))
        return [
            ["ZREMRANGEBYSCORE", history, score, score],
            ["ZADD", history, score, encode_row(key, symbols, prices, stamps)],
            *self._upkeep(book, key),
        ]

    def rewrite_commands(self, book: PriceBook, key: float, legacy: Sequence[str]) -> list[Command]:
        """Commands replacing every stored row by what ``book`` holds (one row per key)
        and deleting the ``legacy`` per-symbol sets: how histories in the format before
        rows move into rows, in one write."""
        history = self._keys.price_history
        commands: list[Command] = [["DEL", history]]
        for at in range(0, len(legacy), REWRITE_CHUNK):
            commands.append(["DEL", *legacy[at : at + REWRITE_CHUNK]])
        members: list[str | float] = []
        for row_key, symbols, prices, stamps in _rows_of(book):
            members += [repr(row_key), encode_row(row_key, symbols, prices, stamps)]
        for at in range(0, len(members), 2 * REWRITE_CHUNK):
            commands.append(["ZADD", history, *members[at : at + 2 * REWRITE_CHUNK]])
        return [*commands, *self._upkeep(book, key)]

    def _upkeep(self, book: PriceBook, key: float) -> list[Command]:
        """Drop the rows older than every point a symbol live at ``key`` holds; refresh
        the TTL."""
        history = self._keys.price_history
        commands: list[Command] = []
        oldest = book.oldest_key(key - self._ttl_seconds)
        if oldest < math.inf:
            commands.append(["ZREMRANGEBYSCORE", history, "-inf", f"({oldest!r}"])
        commands.append(["PEXPIRE", history, self._ttl_ms])
        return commands


def _rows_of(book: PriceBook) -> list[tuple[float, list[str], Vector, Vector]]:
    """Every point of ``book`` grouped by key, oldest key first."""
    symbols: list[str] = []
    keys, prices, stamps = [], [], []
    for symbol in book.symbols:
        k, p, t = book.window(symbol)
        symbols += [symbol] * len(k)
        keys.append(k)
        prices.append(p)
        stamps.append(t)
    if not symbols:
        return []
    key, price, stamp = (np.concatenate(a) for a in (keys, prices, stamps))
    order = np.argsort(key, kind="stable")
    key, price, stamp = key[order], price[order], stamp[order]
    names = [symbols[i] for i in order.tolist()]
    bounds = [0, *(np.flatnonzero(np.diff(key)) + 1).tolist(), len(key)]
    return [
        (float(key[a]), names[a:b], price[a:b], stamp[a:b]) for a, b in itertools.pairwise(bounds)
    ]
