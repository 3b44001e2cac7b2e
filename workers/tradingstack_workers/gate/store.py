"""The gate's Redis I/O: build a :class:`PortfolioView`, write a decision, publish heat.

Snapshot keys are found with SCAN (never KEYS). SCAN walks the whole keyspace, which
holds a permit and an exactly-once marker per proposal, so it runs every
``rescan_seconds`` rather than per batch; in between, the known keys plus the
symbols of the batch being judged are read in one pipeline. A snapshot that breaks
its contract is skipped and reported by field, never fatal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from ..keys import Keys
from ..runtime.once import Command, OnceWriter
from ..runtime.redis_client import RetryPolicy
from ..wire.proposal import Permit, Proposal
from .decide import ClusterState, PortfolioView, Position, Verdict

#: The audit stream keeps about this many decisions.
AUDIT_MAXLEN = 100_000


def _flat(fields: Mapping[str, str]) -> list[str]:
    return [x for kv in fields.items() for x in kv]


@dataclass
class ViewRead:
    view: PortfolioView
    snapshot_ages: dict[str, float] = field(default_factory=dict)
    #: (symbol, field) of each snapshot skipped as malformed.
    malformed: list[tuple[str, str]] = field(default_factory=list)


def _float(fields: Mapping[str, str], name: str) -> float | None:
    try:
        value = float(fields[name])
    except (KeyError, ValueError):
        return None
    return value if math.isfinite(value) else None


def parse_snapshot(symbol: str, fields: Mapping[str, str]) -> Position | str:
    """A position, or the name of the first bad field."""
    amt = _float(fields, "position_amt")
    if amt is None:
        return "position_amt"
    price = _float(fields, "mark_price")
    if price is None or price <= 0:
        return "mark_price"
    ts = _float(fields, "ts_epoch")
    if ts is None:
        return "ts_epoch"
    return Position(symbol=symbol, amt=amt, mark_price=price, ts=ts)


def parse_cluster(fields: Mapping[str, str], now: float) -> ClusterState | None:
    """None when absent; an unreadable hash becomes a NaN stress (the decision says invalid).

    ``symbols`` (comma-separated) says which book the stress describes; a hash without
    it (an older writer) covers no book for sure, and the decision treats it so.
    """
    if not fields:
        return None
    stress = _float(fields, "cluster_stress")
    updated = _float(fields, "updated_ts")
    count = _float(fields, "clusters_count")
    if stress is None or updated is None:
        return ClusterState(math.nan, 0, now)
    listed = fields.get("symbols")
    symbols = None if listed is None else frozenset(s for s in listed.split(",") if s)
    return ClusterState(stress, int(count or 0), updated, symbols)


class GateStore:
    def __init__(
        self,
        client: redis.Redis,
        retry: RetryPolicy,
        once: OnceWriter,
        keys: Keys,
        *,
        rescan_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._retry = retry
        self._once = once
        self._keys = keys
        self._rescan = rescan_seconds
        self._monotonic = monotonic
        self._next_scan = 0.0
        self._symbols: set[str] = set()

    def _scan_symbols(self) -> set[str]:
        prefix = self._keys.snapshot("")

        def scan() -> set[str]:
            found = self._client.scan_iter(match=self._keys.snapshot_pattern, count=1000)
            return {str(k)[len(prefix) :] for k in found}

        return self._retry.run(scan, "scan snapshots")

    def read_view(self, now: float, symbols: Iterable[str] = ()) -> ViewRead:
        """The portfolio as Redis holds it now; ``symbols`` are always read."""
        if self._monotonic() >= self._next_scan:
            self._symbols = self._scan_symbols()
            self._next_scan = self._monotonic() + self._rescan
        wanted = sorted(self._symbols | set(symbols))

        def read() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            pipe.hgetall(self._keys.portfolio_state)
            pipe.hgetall(self._keys.cluster_state)
            for symbol in wanted:
                pipe.hgetall(self._keys.snapshot(symbol))
            return pipe.execute(raise_on_error=False)

        replies = self._retry.run(read, "read portfolio view")
        state = replies[0] if isinstance(replies[0], dict) else {}
        cluster = replies[1] if isinstance(replies[1], dict) else {"cluster_stress": "wrong type"}
        result = ViewRead(
            PortfolioView(
                equity_usd=_float(state, "equity_usd"),
                equity_ts=_float(state, "timestamp"),
                positions={},
                cluster=parse_cluster(cluster, now),
                now=now,
            )
        )
        positions: dict[str, Position] = {}
        for symbol, reply in zip(wanted, replies[2:], strict=True):
            if isinstance(reply, Exception):
                result.malformed.append((symbol, "type"))
                continue
            if not reply:
                self._symbols.discard(symbol)  # gone since the last SCAN
                continue
            parsed = parse_snapshot(symbol, reply)
            if isinstance(parsed, str):
                result.malformed.append((symbol, parsed))
                continue
            result.snapshot_ages[symbol] = max(0.0, now - parsed.ts)
            positions[symbol] = parsed
        result.view = PortfolioView(
            equity_usd=result.view.equity_usd,
            equity_ts=result.view.equity_ts,
            positions=positions,
            cluster=result.view.cluster,
            now=now,
            unreadable=frozenset(symbol for symbol, _ in result.malformed),
        )
        return result

    def heat_command(self, heat: float, now: float) -> Command:
        return ["HSET", self._keys.portfolio_heat, "heat", repr(heat), "ts", repr(now)]

    def write_decision(
        self, proposal: Proposal, verdict: Verdict, permit: Permit, ttl_seconds: int, instance: str
    ) -> None:
        """Permit (with TTL), audit entry and heat, applied once per proposal id.

        A redelivered proposal finds the marker and writes nothing: the first
        decision stands and no second permit is ever issued.
        """
        key = self._keys.permit(proposal.proposal_id)
        fields = permit.to_fields()
        audit = {**fields, "bot": proposal.bot, "strategy": proposal.strategy, "gate": instance}
        stream = self._keys.gate_audit_stream
        commands: list[Command] = [
            ["HSET", key, *_flat(fields)],
            ["EXPIRE", key, ttl_seconds],
            ["XADD", stream, "MAXLEN", "~", AUDIT_MAXLEN, "*", *_flat(audit)],
            self.heat_command(verdict.heat_now, permit.issued_ts),
        ]
        self._once.apply(f"gate:permit:{proposal.proposal_id}", commands, keys=[key])

    def publish_heat(self, heat: float, now: float) -> None:
        """Heat for the governor when no proposal came by (a whole-value write: safe to retry)."""
        command = self.heat_command(heat, now)
        self._retry.run(lambda: self._client.execute_command(*command), "publish heat")
