"""Granted but unfilled exposure: what it adds to the book, and how a grant is recorded.

Without reservations a burst of proposals, each acceptable alone, is judged against the
same book and together passes the heat limit. So every permit granted for an entry
reserves its quantity (``Keys.reservations``) until the order fills (the chokepoint
moves it into the position, atomically), is refused or given up (removed), or the
permit expires (ignored, then pruned).

**Book.** Per symbol, reservations are summed per side; whichever subset of them fills,
the position ends between ``held + short`` and ``held + long``. The decision counts the
endpoint of larger magnitude (:meth:`Reserved.worst`), so gross exposure, and hence
heat, is bounded for every subset that may fill.

**Serial across replicas.** A grant is written by one script that first compares
``Keys.reservations_version`` with the version the deciding gate read together with the
book (in one MULTI); if another grant came in between, nothing is written and the gate
re-reads and decides again. Every grant raises the version. Denials and reducing trades
reserve nothing and are written without the comparison: judged on an older book they
are at worst too cautious, never too bold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from ..keys import Keys
from ..runtime.once import Command, eval_replicated
from ..runtime.redis_client import RetryPolicy
from ..wire import BadEntry, Reservation


@dataclass(frozen=True)
class Reserved:
    """One symbol's outstanding reservations: ``long`` >= 0 and ``short`` <= 0 units, and
    the price of the latest (to value a symbol not yet held)."""

    long: float = 0.0
    short: float = 0.0
    price: float = 0.0

    def worst(self, units: float) -> float:
        """The position of larger magnitude that ``units`` may become as reservations fill."""
        up, down = units + self.long, units + self.short
        return up if abs(up) >= abs(down) else down


NOTHING = Reserved()


def add(reserved: Reserved, r: Reservation) -> Reserved:
    """``reserved`` with one more reservation of its symbol."""
    return Reserved(
        long=reserved.long + max(r.qty, 0.0), short=reserved.short + min(r.qty, 0.0), price=r.price
    )


def by_symbol(reservations: Iterable[Reservation], now: float) -> dict[str, Reserved]:
    """Unexpired reservations summed per symbol and side."""
    out: dict[str, Reserved] = {}
    for r in reservations:
        if r.expires_ts >= now:
            out[r.symbol] = add(out.get(r.symbol, NOTHING), r)
    return out


def parse_all(fields: Mapping[str, str]) -> tuple[list[Reservation], list[str]]:
    """The hash's reservations, and the fields that break the contract (to be dropped)."""
    parsed, bad = [], []
    for proposal_id, text in fields.items():
        try:
            parsed.append(Reservation.from_json(proposal_id, text))
        except BadEntry:
            bad.append(proposal_id)
    return parsed, bad


# KEYS: 1 once-marker, 2 version, 3 reservations
# ARGV: 1 marker ttl, 2 version read ('' when no comparison), 3 commands JSON,
#       4 reservation field ('' for none), 5 reservation JSON, 6 JSON list of fields to drop
# Returns {'done', replies} (decided before), {'conflict', version} or {'applied', replies}.
_DECIDE = """
local done = redis.call('GET', KEYS[1])
if done then return {'done', done} end
if ARGV[2] ~= '' then
  local current = redis.call('GET', KEYS[2]) or '0'
  if current ~= ARGV[2] then return {'conflict', current} end
end
local replies = {}
for i, command in ipairs(cjson.decode(ARGV[3])) do
  replies[i] = redis.call(unpack(command))
end
for _, field in ipairs(cjson.decode(ARGV[6])) do redis.call('HDEL', KEYS[3], field) end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  redis.call('INCR', KEYS[2])
end
local encoded = cjson.encode(replies)
redis.call('SET', KEYS[1], encoded, 'EX', tonumber(ARGV[1]))
return {'applied', encoded}
"""


class Conflict(Exception):
    """Another grant landed after this gate read the book: read again and decide again."""


class DecisionWriter:
    """Writes one decision (permit, audit, heat, and for a grant its reservation) once."""

    def __init__(
        self,
        client: redis.Redis,
        retry: RetryPolicy,
        keys: Keys,
        *,
        replicas: int = 0,
        replica_timeout_ms: int = 500,
        marker_ttl_seconds: int = 86_400,
    ) -> None:
        self._client = client
        self._retry = retry
        self._keys = keys
        self._replicas = replicas
        self._replica_timeout_ms = replica_timeout_ms
        self._marker_ttl = marker_ttl_seconds

    def write(
        self,
        proposal_id: str,
        commands: Sequence[Command],
        *,
        reservation: Reservation | None,
        version: int,
        drop: Sequence[str] = (),
    ) -> bool:
        """Apply ``commands`` once per proposal id. With a ``reservation`` only if the
        version is still ``version`` (else :class:`Conflict`, nothing written). False when
        the proposal had been decided before (a redelivery): nothing was written."""
        marker = f"{self._keys.prefix}:once:gate:permit:{proposal_id}"
        keys = [marker, self._keys.reservations_version, self._keys.reservations]
        args: list[str | int | float] = [
            self._marker_ttl,
            str(version) if reservation is not None else "",
            json.dumps([[str(part) for part in c] for c in commands]),
            reservation.proposal_id if reservation is not None else "",
            reservation.to_json() if reservation is not None else "",
            json.dumps(list(drop)),
        ]

        def attempt() -> Any:
            return eval_replicated(
                self._client, _DECIDE, keys, args, replicas=self._replicas,
                replica_timeout_ms=self._replica_timeout_ms, what=f"permit {proposal_id}",
            )  # fmt: skip

        status, _ = self._retry.run(attempt, f"decide {proposal_id}")
        if status == "conflict":
            raise Conflict(proposal_id)
        return bool(status == "applied")
