"""Per-symbol price history persisted in Redis, so a restarted pod computes at once.

One sorted set per symbol: score = the sampling cycle's time (the key that aligns
symbols), member = ``"{snapshot ts}|{price}"``. An append first removes whatever
sits at its score, then adds, trims to the lookback and refreshes the TTL, all in
one fenced write: a retried append leaves exactly the same set, never a duplicate point.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import redis

from ..keys import Keys
from ..runtime.once import Command
from ..runtime.redis_client import RetryPolicy
from ..wire import epoch_seconds_problem
from .correlation import PricePoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampledPoint(PricePoint):
    """A price point and the snapshot time it came from (to skip unchanged snapshots)."""

    snapshot_ts: float

    def member(self) -> str:
        return f"{self.snapshot_ts!r}|{self.price!r}"

    @classmethod
    def parse(cls, member: str, score: float) -> SampledPoint | None:
        """The stored point, or None when it is unreadable (the same time rules as every
        wire timestamp: a point in another unit would never align with the others)."""
        ts, sep, price = member.partition("|")
        try:
            point = cls(key=float(score), price=float(price), snapshot_ts=float(ts))
        except ValueError:
            return None
        if not sep or not (math.isfinite(point.price) and point.price > 0):
            return None
        if epoch_seconds_problem(point.key, None) or epoch_seconds_problem(point.snapshot_ts, None):
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

    def symbol_of(self, key: str) -> str:
        return key.removeprefix(self._keys.price_history(""))

    def load(self, allow: Iterable[str] = ()) -> dict[str, list[SampledPoint]]:
        """Every stored history (only ``allow``'s symbols when given), oldest point first."""
        allowed = set(allow)
        found = self._retry.run(
            lambda: list(self._client.scan_iter(match=self._keys.price_history_pattern, count=500)),
            "scan price histories",
        )
        symbols = sorted(
            s for s in map(self.symbol_of, found) if s and (not allowed or s in allowed)
        )

        def read() -> list[list[tuple[str, float]]]:
            pipe = self._client.pipeline(transaction=False)
            for symbol in symbols:
                pipe.zrange(self._keys.price_history(symbol), -self._lookback, -1, withscores=True)
            return list(pipe.execute())

        histories: dict[str, list[SampledPoint]] = {}
        for symbol, rows in zip(
            symbols, self._retry.run(read, "load price histories"), strict=True
        ):
            points = [SampledPoint.parse(member, score) for member, score in rows]
            kept = [p for p in points if p is not None]
            if len(kept) < len(points):
                log.warning("unreadable history points dropped", extra={"symbol": symbol})
            histories[symbol] = kept
        return histories

    def append_commands(self, points: Mapping[str, SampledPoint]) -> list[Command]:
        """Commands adding one point per symbol; idempotent, so a retry changes nothing more."""
        commands: list[Command] = []
        for symbol, point in points.items():
            key = self._keys.price_history(symbol)
            score = repr(point.key)
            commands += [
                ["ZREMRANGEBYSCORE", key, score, score],
                ["ZADD", key, score, point.member()],
                ["ZREMRANGEBYRANK", key, 0, -(self._lookback + 1)],
                ["PEXPIRE", key, self._ttl_ms],
            ]
        return commands
