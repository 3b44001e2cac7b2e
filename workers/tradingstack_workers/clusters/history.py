"""Per-symbol price history persisted in Redis, so a restarted pod computes at once.

One sorted set per symbol: score = the sampling cycle's time (the key that aligns
symbols), member = ``"{snapshot ts}|{price}"``. An append first removes whatever
sits at its score (only a cycle run again has one), then adds; every few cycles it also
trims to the lookback and refreshes the TTL; every symbol of the cycle in one fenced
write: a retried append leaves exactly the same sets, never a duplicate point. In memory
the histories are a :class:`.book.PriceBook` (arrays, no object per point).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Sequence

import numpy as np
import redis

from ..keys import Keys
from ..runtime.once import Command
from ..runtime.redis_client import RetryPolicy
from ..runtime.symbol_scan import scan_symbols
from ..wire import epoch_seconds_problem
from .book import PriceBook, Vector

log = logging.getLogger(__name__)

#: Symbols read per pipeline at warm-up (bounds the replies held at once).
LOAD_CHUNK = 100


def member(snapshot_ts: float, price: float) -> str:
    """The stored form of one point (its key is the score)."""
    return f"{snapshot_ts!r}|{price!r}"


def parse_member(member: str, score: float) -> tuple[float, float, float] | None:
    """``(key, price, snapshot_ts)`` of a stored point, or None when it is unreadable
    (the same time rules as every wire timestamp: a point in another unit would never
    align with the others)."""
    ts, sep, price = member.partition("|")
    try:
        point = (float(score), float(price), float(ts))
    except ValueError:
        return None
    key, value, snapshot_ts = point
    if not sep or not (math.isfinite(value) and value > 0):
        return None
    if epoch_seconds_problem(key, None) or epoch_seconds_problem(snapshot_ts, None):
        return None
    return point


class HistoryStore:
    """Loads and appends the persisted histories; every Redis call goes through ``retry``."""

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
        self._ttl_ms = max(1, int(ttl_seconds * 1000))

    def load(self, allow: Iterable[str] = ()) -> PriceBook:
        """Every stored history (only ``allow``'s symbols when given), oldest point first."""
        keys = self._keys
        scanned = scan_symbols(
            self._client, self._retry, keys.price_history(""), keys.price_history_pattern
        )
        symbols = scanned.only(set(allow))
        book = PriceBook(self._lookback)
        for at in range(0, len(symbols), LOAD_CHUNK):
            chunk = symbols[at : at + LOAD_CHUNK]

            def read(chunk: list[str] = chunk) -> list[list[tuple[str, float]]]:
                pipe = self._client.pipeline(transaction=False)
                for symbol in chunk:
                    pipe.zrange(
                        self._keys.price_history(symbol), -self._lookback, -1, withscores=True
                    )
                return list(pipe.execute())

            for symbol, rows in zip(
                chunk, self._retry.run(read, "load price histories"), strict=True
            ):
                points = [p for p in (parse_member(m, score) for m, score in rows) if p]
                if len(points) < len(rows):
                    log.warning("unreadable history points dropped", extra={"symbol": symbol})
                array = np.array(points, dtype=np.float64).reshape(-1, 3)
                book.put(symbol, array[:, 0], array[:, 1], array[:, 2])
        return book

    def append_commands(
        self,
        symbols: Sequence[str],
        key: float,
        prices: Vector,
        snapshot_ts: Vector,
        *,
        replacing: Collection[str] = (),
        upkeep: bool = True,
    ) -> list[Command]:
        """Commands adding one point at ``key`` per symbol; idempotent, so a retry changes
        nothing more (ZADD of the same member at the same score).

        ``replacing``: symbols whose last point sits at ``key`` (a cycle run again):
        that point is removed first. ``upkeep``: trim every set to the lookback and
        refresh its TTL; the caller does it every few cycles (a set then holds a few
        points more than the lookback, and :meth:`load` reads only the last ones): per
        cycle it was three of the four commands a point cost.
        """
        score = repr(key)
        commands: list[Command] = []
        for symbol, price, ts in zip(symbols, prices.tolist(), snapshot_ts.tolist(), strict=True):
            history = self._keys.price_history(symbol)
            if symbol in replacing:
                commands.append(["ZREMRANGEBYSCORE", history, score, score])
            commands.append(["ZADD", history, score, member(ts, price)])
            if upkeep:
                commands.append(["ZREMRANGEBYRANK", history, 0, -(self._lookback + 1)])
                commands.append(["PEXPIRE", history, self._ttl_ms])
        return commands
