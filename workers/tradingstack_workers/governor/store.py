"""The governor's Redis I/O: find symbols, read every input in one round trip, write budgets.

Every call is idempotent (reads, whole-hash writes), so the runtime's
:class:`RetryPolicy` may re-run it across a failover. A key of the wrong type
(WRONGTYPE) is reported as a malformed input, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from ..keys import Keys
from ..runtime.once import Command
from ..runtime.redis_client import RetryPolicy
from ..runtime.symbol_scan import SnapshotSymbols
from ..wire import Budget

Hash = Mapping[str, str]


@dataclass(frozen=True)
class RawInputs:
    """The hashes one cycle read; an empty mapping where the key is absent."""

    portfolio: Hash
    heat: Hash
    cluster: Hash
    markets: Mapping[str, Hash]
    #: input type -> why a key could not be read as a hash.
    unreadable: Mapping[str, str] = field(default_factory=dict)


class GovernorStore:
    def __init__(self, client: redis.Redis, retry: RetryPolicy, keys: Keys) -> None:
        self._client = client
        self._retry = retry
        self._keys = keys
        self._snapshots = SnapshotSymbols(client, retry, keys)

    def symbols(self) -> tuple[list[str], list[str]]:
        """Symbols with a position snapshot (:class:`SnapshotSymbols`), and the rejected
        suffixes."""
        scanned = self._snapshots.read()
        return scanned.symbols, scanned.rejected

    def read(self, symbols: Sequence[str]) -> RawInputs:
        """Portfolio state, heat, cluster state and each symbol's market state."""
        names = ["portfolio_state", "portfolio_heat", "cluster_stress"]
        keys = [self._keys.portfolio_state, self._keys.portfolio_heat, self._keys.cluster_state]
        names += ["vol_regime"] * len(symbols)
        keys += [self._keys.market_state(s) for s in symbols]

        def fetch() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            return list(pipe.execute(raise_on_error=False))

        replies = self._retry.run(fetch, "read governor inputs")
        unreadable: dict[str, str] = {}
        hashes: list[Hash] = []
        for name, key, reply in zip(names, keys, replies, strict=True):
            if isinstance(reply, redis.ResponseError):
                unreadable[name] = f"{key}: {reply}"
                hashes.append({})
            elif isinstance(reply, Exception):
                raise reply  # a transport error mid-pipeline: let the loop retry the step
            else:
                hashes.append({str(k): str(v) for k, v in dict(reply).items()})
        return RawInputs(
            portfolio=hashes[0],
            heat=hashes[1],
            cluster=hashes[2],
            markets=dict(zip(symbols, hashes[3:], strict=True)),
            unreadable=unreadable,
        )

    def budget_commands(self, budgets: Sequence[Budget], ttl_seconds: int) -> list[Command]:
        """Replace each budget hash and set its TTL, for one atomic (fenced) write: never a
        hash without TTL. Whole values: a retried write changes nothing more."""
        commands: list[Command] = []
        for b in budgets:
            key = self._keys.budget(b.symbol)
            fields = [x for kv in b.to_fields().items() for x in kv]
            commands += [["DEL", key], ["HSET", key, *fields], ["EXPIRE", key, ttl_seconds]]
        return commands

    def write_portfolio_state(self, fields: Mapping[str, str]) -> None:
        """Used by the test-injection endpoint only; no retry so a request never hangs."""
        key = self._keys.portfolio_state
        mapping: dict[Any, Any] = dict(fields)
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=mapping)
        pipe.execute()
