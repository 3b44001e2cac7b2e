"""Which symbols have a key of one kind: SCAN, never KEYS, and one rule for suffixes.

Position snapshots and price histories are keyed ``prefix`` + symbol. Only a plain
ticker (:func:`~..wire.is_symbol`) becomes a key suffix read further or a metric label:
any other suffix is nobody's snapshot (and may not even encode).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import redis

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
