"""Which symbols have a key of one kind: the writers' index of position snapshots (SCAN
once), SCAN (never KEYS) for other kinds, and one rule for suffixes.

Position snapshots and price histories are keyed ``prefix`` + symbol. Only a plain
ticker (:func:`~..wire.is_symbol`) becomes a key suffix read further or a metric label:
any other suffix is nobody's snapshot (and may not even encode).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import redis

from ..keys import Keys
from ..wire import is_symbol
from .redis_client import RetryPolicy

#: SCAN's COUNT hint: keys looked at per call (about 1000 symbols at issue #18's size).
SCAN_COUNT = 1000


@dataclass(frozen=True)
class ScannedSymbols:
    """``symbols``: each once, sorted; ``rejected``: the suffixes that are no symbol."""

    symbols: list[str]
    rejected: list[str]

    def only(self, allowed: Collection[str]) -> list[str]:
        """``symbols`` that are in ``allowed``; all of them when ``allowed`` is empty."""
        return [s for s in self.symbols if not allowed or s in allowed]


def symbols_in(keys: Iterable[str], prefix: str) -> ScannedSymbols:
    """The symbols named by ``keys`` (each ``prefix`` + symbol, as SCAN found them).

    SCAN may return a key twice (it guarantees only that a key present throughout is
    returned at least once), and a symbol read twice would be counted twice in one
    cycle: each symbol appears once.
    """
    good: set[str] = set()
    rejected: list[str] = []
    for key in keys:
        suffix = key.removeprefix(prefix)
        if is_symbol(suffix):
            good.add(suffix)
        else:
            rejected.append(suffix)
    return ScannedSymbols(sorted(good), rejected)


def scan_symbols(
    client: redis.Redis, retry: RetryPolicy, prefix: str, pattern: str
) -> ScannedSymbols:
    """SCAN ``pattern`` (the keys ``prefix`` + symbol) under ``retry``.

    Raises RedisUnavailable when Redis stays unreachable past the retry budget.
    """
    found = retry.run(
        lambda: [str(k) for k in client.scan_iter(match=pattern, count=SCAN_COUNT)],
        f"scan {pattern}",
    )
    return symbols_in(found, prefix)


class SnapshotSymbols:
    """Which symbols have a position snapshot, without walking the keyspace.

    SCAN walks every key, and the keyspace holds a permit and an exactly-once marker
    per proposal (the markers for 24 h): measured at 10 ms for 40k keys, 130 ms for
    200k and 800 ms for 1M, per reader every few seconds, while the symbols number
    tens. So every snapshot writer adds its symbol to :attr:`~..keys.Keys.snapshot_index`
    in the script that writes the snapshot, and a read is one SMEMBERS.

    The first read also SCANs the snapshot keys once and adds the symbols found to the
    index: snapshots written before the index existed (by an earlier version, during an
    upgrade) are found so. A symbol stays in the index after its snapshot is gone; its
    reader finds the hash empty. Raises RedisUnavailable when Redis stays unreachable
    past the retry budget.
    """

    def __init__(self, client: redis.Redis, retry: RetryPolicy, keys: Keys) -> None:
        self._client = client
        self._retry = retry
        self._keys = keys
        self._scanned = False

    def read(self) -> ScannedSymbols:
        """The indexed symbols, sorted; members that are no symbol (and, at the first
        read, snapshot keys whose suffix is none) in ``rejected``."""
        keys, client = self._keys, self._client
        rejected: list[str] = []
        if not self._scanned:
            found = scan_symbols(client, self._retry, keys.snapshot(""), keys.snapshot_pattern)
            if found.symbols:
                self._retry.run(
                    lambda: client.sadd(keys.snapshot_index, *found.symbols),
                    "index snapshot symbols",
                )
            rejected = found.rejected
            self._scanned = True
        members = self._retry.run(
            lambda: [str(m) for m in client.smembers(keys.snapshot_index)],
            "read snapshot index",
        )
        indexed = symbols_in(members, "")
        return ScannedSymbols(indexed.symbols, [*rejected, *indexed.rejected])
