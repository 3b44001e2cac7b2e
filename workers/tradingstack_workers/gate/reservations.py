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

**Across replicas.** A gate decides a whole batch on one view and writes it with one
script (:class:`DecisionWriter`). ``Keys.reservation_grants`` holds running totals
that every grant raises: how many grants, their gross USD, and how many per symbol; the
gate reads them with the book (and their symbols' snapshots). At the write, the
script compares:

* no grant since the read: the batch is written (its view was the whole book);
* grants since, all on symbols the gate's view holds a position in, and their USD
  within the batch's headroom (the least over its grants of what could still be
  added with each grant within the limits, :func:`headroom_usd`): written, since each
  of those grants raises this view's gross, largest position and net exposure by at
  most its USD (a held symbol is valued at its mark, whoever reserved it);
* otherwise (too much granted, or on a symbol the view does not hold, which a
  reservation values at its own price and may re-value): nothing is written, and
  the gate re-reads and decides the batch again.

So two replicas granting side by side far from the limits never wait on each other, and
near the limits, or on new symbols, a grant is still judged on every grant written
before it. Denials and reducing trades reserve nothing and need no headroom: judged on
an older book they are at worst too cautious. A mark or equity that moves between read
and write is, as for any decision, the next batch's input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
import redis

from ..keys import Keys
from ..runtime.once import Command, eval_replicated
from ..runtime.redis_client import RetryPolicy
from ..wire import BadEntry, Reservation

if TYPE_CHECKING:
    from ..runtime.streams import ReadAlong
    from .decide import GateLimits, Verdict

#: The audit stream keeps about this many decisions.
AUDIT_MAXLEN = 100_000


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


def parse_all(fields: Mapping[str, str]) -> tuple[list[Reservation], list[str]]:
    """The hash's reservations, and the fields that break the contract (to be dropped)."""
    return ParsedReservations().parse(fields)


class ParsedReservations:
    """:func:`parse_all` that parses each field once while its value stays the same: the
    gate reads the whole hash again (:mod:`.known`), and most of it was there at the
    last read."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, Reservation | None]] = {}

    def parse(self, fields: Mapping[str, str]) -> tuple[list[Reservation], list[str]]:
        known: dict[str, tuple[str, Reservation | None]] = {}
        parsed, bad = [], []
        for proposal_id, text in fields.items():
            seen = self._known.get(proposal_id)
            if seen is not None and seen[0] == text:
                reservation = seen[1]
            else:
                try:
                    reservation = Reservation.from_json(proposal_id, text)
                except BadEntry:
                    reservation = None
            known[proposal_id] = (text, reservation)
            if reservation is None:
                bad.append(proposal_id)
            else:
                parsed.append(reservation)
        self._known = known
        return parsed, bad

    @property
    def texts(self) -> Mapping[str, tuple[str, Reservation | None]]:
        """Each field known, by id: its text and what it parsed as (do not change it)."""
        return self._known

    def learn(self, reservation: Reservation, text: str) -> None:
        """Remember a reservation this gate wrote as ``text``: not parsed when read back."""
        self._known[reservation.proposal_id] = (text, reservation)

    def forget(self, proposal_ids: Iterable[str]) -> None:
        """Forget fields being pruned (a gate that reads the hash seldom learns many)."""
        for proposal_id in proposal_ids:
            self._known.pop(proposal_id, None)


#: The share of capacity the headroom leaves unused, far above float rounding (about
#: 1e-16 of the figures) and far below anything a limit means.
HEADROOM_MARGIN = 1e-12


def headroom_usd(verdict: Verdict, equity_usd: float, limits: GateLimits) -> float:
    """How many USD of gross exposure other replicas may grant after this grant's view
    was read, with the grant still within ``max_heat`` and ``max_stress`` (may be < 0),
    less :data:`HEADROOM_MARGIN` of the capacity.

    ``d`` USD granted elsewhere raises gross, the largest position and the net exposure
    by at most ``d`` each, so heat by ``d / C`` and stress by at most
    ``(w_heat + w_conc + w_k) d / C`` (C = equity x leverage cap); K is taken at the
    larger of the cluster value and the proxy, since a grant on a symbol the cluster
    state does not cover switches K to that larger value (:func:`.decide.correlation_k`).
    """
    capacity = equity_usd * limits.leverage_cap
    by_heat = limits.max_heat - verdict.heat
    used = (
        limits.w_heat * verdict.heat
        + limits.w_conc * verdict.conc
        + limits.w_k * max(verdict.k, verdict.corr_proxy)
    )
    weights = limits.w_heat + limits.w_conc + limits.w_k
    by_stress = (limits.max_stress - used) / weights if weights > 0 else by_heat
    # Less a sliver: the figures above and the next judgement each round, and grants
    # that fill the room exactly could leave this grant 1 ulp over a limit.
    return capacity * (min(by_heat, by_stress) - HEADROOM_MARGIN)


@dataclass(frozen=True)
class Decision:
    """One proposal's writes: its permit (a :class:`~..wire.Permit`'s fields, every value
    Redis text) kept ``permit_ttl_seconds``; an audit entry of the permit's fields then
    ``audit``'s (who proposed, which gate decided); and, for a grant, its reservation and
    the gross USD it adds (``notional_usd``)."""

    proposal_id: str
    permit: Mapping[str, str]
    permit_ttl_seconds: int
    audit: Mapping[str, str] = field(default_factory=dict)
    reservation: Reservation | None = None
    notional_usd: float = 0.0

    @cached_property
    def reservation_text(self) -> str:
        """The reservation's field value ('' without one), encoded once: it is written,
        then remembered as read (:meth:`ParsedReservations.learn`)."""
        return self.reservation.to_json() if self.reservation is not None else ""


@dataclass(frozen=True)
class Grants:
    """``Keys.reservation_grants`` as read: grants so far, their USD, grants per symbol,
    fields the gates pruned (expired or unreadable: :mod:`.known`) and fields the bots
    released (:mod:`..runtime.releases`)."""

    count: int = 0
    usd: float = 0.0
    per_symbol: Mapping[str, int] = field(default_factory=dict)
    pruned: int = 0
    released: int = 0

    @classmethod
    def of(cls, fields: Mapping[str, str]) -> Grants:
        """From the hash's fields; a missing or unreadable total counts as none."""

        def number(text: str | None) -> float:
            try:
                value = float(text) if text is not None else 0.0
            except ValueError:
                return 0.0
            return value if math.isfinite(value) else 0.0

        per_symbol = {k[2:]: int(number(v)) for k, v in fields.items() if k.startswith("s:")}
        return cls(
            int(number(fields.get("count"))),
            number(fields.get("usd")),
            per_symbol,
            int(number(fields.get("pruned"))),
            int(number(fields.get("released"))),
        )


@dataclass(frozen=True)
class Since:
    """What a batch was decided on: the grants read, the symbols its view held, and how
    many USD other grants may add before its own grants must be judged again."""

    grants: Grants
    held: Collection[str]
    headroom_usd: float

    def payload(self) -> dict[str, Any]:
        return {
            "count": self.grants.count,
            "usd": self.grants.usd,
            "headroom": self.headroom_usd,
            "held": [[s, self.grants.per_symbol.get(s, 0)] for s in sorted(self.held)],
        }


#: The most keys, fields or ids one command in the script is given (an even number:
#: fields go in pairs). Lua's unpack takes at most 8000 values, and a batch may hold
#: 10,000 decisions (``stream_batch_size``).
ARGS_PER_CALL = 1000

# KEYS: 1 grant totals, 2 reservations
# ARGV: 1 marker ttl, 2 payload JSON: {since: Since.payload() or false, drop: [fields],
#       head: {permit: [field names], audit: [more field names], permit_prefix,
#              marker_prefix, audit_stream, audit_maxlen},
#       decisions: [[proposal id, [permit values then audit values], permit ttl,
#                    reservation field or '', its JSON, symbol, usd]],
#       after: [commands run once the decisions are written]}
# Returns {'conflict', count} (nothing written) or {'applied', statuses, pruned}: per
# decision 1 written now, 0 decided before; how many fields of drop were there, each
# counted in the totals' 'pruned' so that gates tell a prune from a fill (:mod:`.known`).
# A marker says only that its proposal was decided (its commands' replies, which nobody
# reads, cost a JSON encoding each). The grant totals are raised once per batch by what
# its written grants add up to (three calls per grant cost more than the grant itself).
# The field names travel once per batch and each decision's values once, for its permit
# and its audit entry: decoding the payload was a third of the script when every
# decision carried its three commands whole (bench/gate_throughput.py).
# Calls that take many keys or fields are made once per batch, not per decision (MGET
# of the markers, HSET of the reservations, HDEL of the prunes): 4.0 calls per proposal
# instead of 5.6 on the bench's batch, 17.9 us of Redis time per proposal instead of
# 18.2 (a redis.call costs little of its own; the commands and the payload's decoding
# are most of it).
# The reservations and their totals are written before the permits: a script that
# fails part-way is not rolled back, and a reservation without its permit only holds
# exposure back until it expires, while a permit without its reservation would let
# exposure through unreserved.
_DECIDE_BATCH = """
-- Calls command with items appended, ARGS_PER_CALL at a time; returns each call's reply.
local function in_parts(command, items)
  local replies = {}
  for first = 1, #items, ARGS_PER_CALL do
    local args = {unpack(command)}
    for k = first, math.min(first + ARGS_PER_CALL - 1, #items) do args[#args + 1] = items[k] end
    replies[#replies + 1] = redis.call(unpack(args))
  end
  return replies
end
local batch = cjson.decode(ARGV[2])
local since = batch.since
if since then
  local count = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
  if count ~= since.count then
    local on_held = 0
    for _, seen in ipairs(since.held) do
      on_held = on_held + tonumber(redis.call('HGET', KEYS[1], 's:' .. seen[1]) or '0') - seen[2]
    end
    local usd = tonumber(redis.call('HGET', KEYS[1], 'usd') or '0')
    if on_held ~= count - since.count or usd - since.usd > since.headroom then
      return {'conflict', tostring(count)}
    end
  end
end
local pruned = 0
for _, n in ipairs(in_parts({'HDEL', KEYS[2]}, batch.drop)) do pruned = pruned + n end
if pruned > 0 then redis.call('HINCRBY', KEYS[1], 'pruned', pruned) end
local head, decisions = batch.head, batch.decisions
-- Which decisions are new: no marker yet, and not earlier in this batch.
local markers = {}
for i, d in ipairs(decisions) do markers[i] = head.marker_prefix .. d[1] end
local fresh, k, in_batch = {}, 0, {}
for _, found in ipairs(in_parts({'MGET'}, markers)) do
  for _, value in ipairs(found) do
    k = k + 1
    local id = decisions[k][1]
    fresh[k] = not value and not in_batch[id]
    in_batch[id] = true
  end
end
local reserved, granted, granted_usd, per_symbol = {}, 0, 0, {}
for i, d in ipairs(decisions) do
  if fresh[i] and d[4] ~= '' then
    reserved[#reserved + 1] = d[4]
    reserved[#reserved + 1] = d[5]
    granted = granted + 1
    granted_usd = granted_usd + tonumber(d[7])
    per_symbol[d[6]] = (per_symbol[d[6]] or 0) + 1
  end
end
if granted > 0 then
  in_parts({'HSET', KEYS[2]}, reserved)
  redis.call('HINCRBY', KEYS[1], 'count', granted)
  for symbol, n in pairs(per_symbol) do redis.call('HINCRBY', KEYS[1], 's:' .. symbol, n) end
  redis.call('HINCRBYFLOAT', KEYS[1], 'usd', string.format('%.17g', granted_usd))
end
local names, more = head.permit, head.audit
local n, m = #names, #head.audit
-- One HSET and one XADD argument list, their values replaced per decision.
local permit = {'HSET', ''}
local audit = {'XADD', head.audit_stream, 'MAXLEN', '~', head.audit_maxlen, '*'}
for j = 1, n do permit[2 * j + 1] = names[j]; audit[2 * j + 5] = names[j] end
for j = 1, m do audit[2 * (n + j) + 5] = more[j] end
local statuses = {}
local marker_ttl = tonumber(ARGV[1])
for i, d in ipairs(decisions) do
  if fresh[i] then
    local values, key = d[2], head.permit_prefix .. d[1]
    permit[2] = key
    for j = 1, n do permit[2 * j + 2] = values[j]; audit[2 * j + 6] = values[j] end
    for j = 1, m do audit[2 * (n + j) + 6] = values[n + j] end
    redis.call(unpack(permit))
    redis.call('EXPIRE', key, d[3])
    redis.call(unpack(audit))
    redis.call('SET', markers[i], '1', 'EX', marker_ttl)
    statuses[i] = 1
  else
    statuses[i] = 0
  end
end
for _, command in ipairs(batch.after) do redis.call(unpack(command)) end
return {'applied', cjson.encode(statuses), pruned}
""".replace("ARGS_PER_CALL", str(ARGS_PER_CALL))


class Written(NamedTuple):
    """A batch's write: per decision whether it was written now (False: decided before),
    and how many fields it pruned."""

    fresh: list[bool]
    pruned: int


class Conflict(Exception):
    """Other grants landed after this gate read the book, more than its headroom: read
    again and decide again."""


class DecisionWriter:
    """Writes a batch of decisions (permits, audit entries, heat, grants' reservations)
    in one script call, each decision at most once per proposal id."""

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

    def marker(self, proposal_id: str) -> str:
        return f"{self._keys.prefix}:once:gate:permit:{proposal_id}"

    def write(
        self,
        decisions: Sequence[Decision],
        since: Since,
        drop: Sequence[str] = (),
        *,
        after: Sequence[Command] = (),
        acknowledge: tuple[str, str, Sequence[str]] | None = None,
        along: ReadAlong | None = None,
    ) -> Written:
        """Apply every decision not applied before (True for those written now, False
        for a redelivered proposal: the first decision stands), then ``after`` (whole-
        value writes, safe to repeat); ``drop``, fields to prune, is pruned with them.

        When the batch grants anything and other grants came in after ``since`` was
        read, it is written only if they were all on symbols of ``since.held`` and
        their USD is within ``since.headroom_usd``; else :class:`Conflict` and nothing
        is written (see the module doc). ``acknowledge`` (stream, group, entry ids) is
        acknowledged after ``after``, in parts of :data:`ARGS_PER_CALL` ids. ``along``:
        commands sent in the same round trip, after the script
        (:func:`~..runtime.once.eval_replicated`).
        """
        grants = any(d.reservation is not None for d in decisions)
        permit_fields = tuple(decisions[0].permit) if decisions else ()
        audit_fields = tuple(decisions[0].audit) if decisions else ()
        if decisions and not permit_fields:
            raise ValueError("a decision's permit has no fields")
        rows = []
        for d in decisions:
            if tuple(d.permit) != permit_fields or tuple(d.audit) != audit_fields:
                raise ValueError(
                    f"decision {d.proposal_id}: its permit and audit fields differ from the "
                    f"batch's first ({permit_fields}, {audit_fields})"
                )
            r = d.reservation
            rows.append([
                d.proposal_id,
                [*d.permit.values(), *d.audit.values()],
                str(d.permit_ttl_seconds),
                r.proposal_id if r is not None else "",
                d.reservation_text,
                r.symbol if r is not None else "",
                repr(d.notional_usd),
            ])  # fmt: skip
        commands = [[str(part) for part in c] for c in after]
        if acknowledge is not None:
            stream, group, ids = acknowledge
            commands += [
                ["XACK", stream, group, *ids[first : first + ARGS_PER_CALL]]
                for first in range(0, len(ids), ARGS_PER_CALL)
            ]
        payload = {
            "since": since.payload() if grants else False,
            "drop": list(drop),
            "after": commands,
            "head": {
                "permit": permit_fields,
                "audit": audit_fields,
                "permit_prefix": self._keys.permit(""),
                "marker_prefix": self.marker(""),
                "audit_stream": self._keys.gate_audit_stream,
                "audit_maxlen": str(AUDIT_MAXLEN),
            },
            "decisions": rows,
        }
        keys = [self._keys.reservation_grants, self._keys.reservations]
        # orjson: the payload is a batch's every permit (about 0.15 MB for 500), and the
        # json module took as long to encode it as the script to run it.
        args: list[str | int | float] = [self._marker_ttl, orjson.dumps(payload).decode()]

        def attempt() -> Any:
            return eval_replicated(
                self._client, _DECIDE_BATCH, keys, args, replicas=self._replicas,
                replica_timeout_ms=self._replica_timeout_ms,
                what=f"{len(decisions)} decisions", along=along,
            )  # fmt: skip

        status, reply, *pruned = self._retry.run(attempt, f"decide {len(decisions)} proposals")
        if status == "conflict":
            raise Conflict(reply)
        return Written([bool(s) for s in json.loads(reply)], int(pruned[0]))
