"""The pipeline reconciled end to end, from what Redis holds: lost and doubled, by stage.

Every proposal has exactly one verdict (gate audit entry); every bot proposal ends in
exactly one execution result (a fenced-off instance's ``not_leader`` results aside: the
leader writes the one that counts); every permit leads to at most one fill, and every fill
to exactly one result; intel counted every result exactly once; the fills add up to the
ledger's positions, and each account's position is its part of the book's snapshot, whose
``position_amt`` is the parts' sum (runtime.book). :func:`reconcile` is pure; :func:`read`
takes the figures from Redis.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import redis

from tradingstack_workers.intel.store import GROUP as INTEL_GROUP
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.book import POSITION

Fields = Mapping[str, str]
#: Relative tolerance of fills against positions (the ledger writes %.17g numbers).
LEDGER_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Snapshot:
    """What Redis holds, read at one moment."""

    proposals: Sequence[Fields]
    verdicts: Sequence[Fields]
    results: Sequence[Fields]
    fills: Mapping[str, Sequence[Fields]]  # account -> fill entries
    positions: Mapping[str, Mapping[str, float]]  # account -> symbol -> quantity
    intel_counted: int  # processed_total + dead-lettered results
    intel_drained: bool
    result_len: int  # XLEN of the result stream when intel was read (same transaction)
    load_acknowledged: Mapping[str, float] = field(default_factory=dict)
    #: symbol -> its snapshot's fields, read in one transaction with ``positions``.
    snapshots: Mapping[str, Fields] = field(default_factory=dict)


@dataclass
class Findings:
    """Lost and doubled, by stage; ``lost`` and ``doubled`` sum them."""

    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, stage: str, *, lost: Iterable[str] = (), doubled: Iterable[str] = ()) -> None:
        lost, doubled = sorted(lost), sorted(doubled)
        self.stages[stage] = {"lost": len(lost), "doubled": len(doubled)}
        if lost or doubled:
            self.examples[stage] = [*(f"lost {x}" for x in lost[:5]),
                                    *(f"doubled {x}" for x in doubled[:5])]  # fmt: skip

    @property
    def lost(self) -> int:
        return sum(s["lost"] for s in self.stages.values())

    @property
    def doubled(self) -> int:
        return sum(s["doubled"] for s in self.stages.values())


def _ledger_mismatches(
    fills: Mapping[str, Sequence[Fields]], positions: Mapping[str, Mapping[str, float]]
) -> list[str]:
    out = []
    for account in sorted(set(fills) | set(positions)):
        summed: dict[str, float] = {}
        for fill in fills.get(account, ()):
            sign = 1.0 if fill["side"] == "BUY" else -1.0
            summed[fill["symbol"]] = summed.get(fill["symbol"], 0.0) + sign * float(fill["qty"])
        held = positions.get(account, {})
        for symbol in sorted(set(summed) | set(held)):
            want, got = summed.get(symbol, 0.0), held.get(symbol, 0.0)
            if not math.isclose(want, got, rel_tol=LEDGER_TOLERANCE, abs_tol=1e-9):
                out.append(f"{account}/{symbol}: fills {want:.10g} != position {got:.10g}")
    return out


def _book_mismatches(
    positions: Mapping[str, Mapping[str, float]], snapshots: Mapping[str, Fields]
) -> list[str]:
    out = []
    close = partial(math.isclose, rel_tol=LEDGER_TOLERANCE, abs_tol=1e-9)
    held = {s for p in positions.values() for s in p}
    for symbol in sorted(held - set(snapshots)):
        out.append(f"{symbol}: held, but no snapshot")
    for symbol, fields in sorted(snapshots.items()):
        parts = {f.removeprefix(POSITION): float(v) for f, v in fields.items()
                 if f.startswith(POSITION)}  # fmt: skip
        for account, book in sorted(positions.items()):
            want, got = book.get(symbol, 0.0), parts.get(account, 0.0)
            if not close(want, got):
                out.append(f"{account}/{symbol}: position {want:.10g} != book part {got:.10g}")
        total = float(fields.get("position_amt", "nan"))
        if not close(total, math.fsum(parts.values())):
            out.append(f"{symbol}: book position_amt {total:.10g} != sum of its parts")
    return out


def reconcile(snap: Snapshot, *, settled_before: float) -> Findings:
    """The findings; a proposal newer than ``settled_before`` (epoch s) may still be on its
    way, so it counts as doubled when doubled but never as lost."""
    findings = Findings()
    proposed = Counter(p["proposal_id"] for p in snap.proposals)
    when = {p["proposal_id"]: float(p["ts"]) for p in snap.proposals}
    when |= dict(snap.load_acknowledged)
    bots = {p["proposal_id"] for p in snap.proposals if not p["proposal_id"].startswith("load-")}

    def settled(pid: str) -> bool:
        return when.get(pid, math.inf) < settled_before

    findings.add(
        "proposals",
        lost=[p for p in snap.load_acknowledged if p not in proposed and settled(p)],
        doubled=[p for p, n in proposed.items() if n > 1],
    )
    verdicts = Counter(v["proposal_id"] for v in snap.verdicts)
    findings.add(
        "verdicts",
        lost=[p for p in set(proposed) | set(snap.load_acknowledged)
              if verdicts[p] == 0 and settled(p)],
        doubled=[p for p, n in verdicts.items() if n > 1],
    )  # fmt: skip
    counted = [r for r in snap.results if r.get("reason") != "not_leader"]
    results = Counter(r.get("proposal_id", "") for r in counted)
    findings.add(
        "results",
        lost=[p for p in bots | set(snap.load_acknowledged) if results[p] == 0 and settled(p)],
        doubled=[p for p, n in results.items() if n > 1],
    )
    fills = Counter(f["intent_id"] for entries in snap.fills.values() for f in entries)
    executed = {r.get("proposal_id", "") for r in counted if r.get("decision") == "EXECUTE"}
    findings.add(
        "executions",
        # A fill whose proposal never got its result, or an EXECUTE the ledger never saw.
        lost=[*(p for p in fills if results[p] == 0 and settled(p)),
              *(p for p in executed if fills[p] == 0)],
        doubled=[p for p, n in fills.items() if n > 1],
    )  # fmt: skip
    total = snap.result_len
    findings.add(
        "intel",
        lost=[f"{total - snap.intel_counted} results"]
        if snap.intel_drained and snap.intel_counted < total
        else [],
        doubled=[f"{snap.intel_counted - total} results"] if snap.intel_counted > total else [],
    )
    findings.add("ledger", lost=_ledger_mismatches(snap.fills, snap.positions))
    findings.add("book", lost=_book_mismatches(snap.positions, snap.snapshots))
    return findings


def _entries(client: redis.Redis, stream: str) -> list[Fields]:
    raw = cast(list[tuple[str, dict[str, str]]], client.xrange(stream))
    return [fields for _, fields in raw]


def intel_state(client: redis.Redis, keys: Keys) -> tuple[int, bool, int]:
    """(results processed + dead-lettered, every result delivered and acknowledged, XLEN of
    the result stream), read in one transaction."""
    stream = keys.result_stream
    if not client.exists(stream):
        return 0, True, 0
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(keys.intel_status)
    pipe.xlen(keys.dead_letter(stream))
    pipe.xinfo_groups(stream)
    pipe.xinfo_stream(stream)
    status, dead, groups, info = pipe.execute()
    counted = int(status.get("processed_total") or 0) + int(dead)
    group = next((g for g in cast(list[dict[str, Any]], groups) if g["name"] == INTEL_GROUP), None)
    drained = (
        group is not None
        and group["pending"] == 0
        and group["last-delivered-id"] == info["last-generated-id"]
    )
    return counted, drained, int(info["length"])


def read(
    client: redis.Redis, keys: Keys, accounts: Sequence[str], load: Mapping[str, float]
) -> Snapshot:
    counted, drained, result_len = intel_state(client, keys)
    symbols = sorted(cast(set[str], client.smembers(keys.snapshot_index)))
    pipe = client.pipeline(transaction=True)  # positions and snapshots at one instant
    for account in accounts:
        pipe.hgetall(keys.positions(account))
    for symbol in symbols:
        pipe.hgetall(keys.snapshot(symbol))
    replies = cast(list[dict[str, str]], pipe.execute())
    positions = {
        a: {s: float(q) for s, q in held.items()}
        for a, held in zip(accounts, replies, strict=False)
    }
    snapshots = dict(zip(symbols, replies[len(accounts) :], strict=True))
    return Snapshot(
        proposals=_entries(client, keys.proposal_stream),
        verdicts=_entries(client, keys.gate_audit_stream),
        results=_entries(client, keys.result_stream),
        fills={a: _entries(client, keys.fills(a)) for a in accounts},
        positions=positions,
        intel_counted=counted,
        intel_drained=drained,
        result_len=result_len,
        load_acknowledged=dict(load),
        snapshots=snapshots,
    )
