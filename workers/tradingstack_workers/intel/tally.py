"""One batch's counts, and the script that applies them with the acknowledgement.

Exactly once: the group's pending-entries list is the ledger. The script
acknowledges each entry of the batch and counts only those its XACK actually
removed from the list, all inside one atomic script that the consumer queues in
its settle MULTI/EXEC (with any dead letters). So:

* a crash before EXEC: nothing counted, nothing acknowledged; the entries stay
  pending and another consumer claims them (XAUTOCLAIM) and counts them once;
* a crash after EXEC: counted and acknowledged together;
* a lost EXEC reply, retried: the entries are no longer pending, the retry
  counts nothing;
* a stalled consumer whose entries were claimed and counted by another: its late
  XACKs return 0 for them, so they are not counted twice.

Entries that add the same counts (same bucket, decision, reason and symbol) are
acknowledged by one variadic XACK: its reply says how many of them were still
pending, and since they are interchangeable for counting, that number is exactly
what to add. A batch is one round trip and a few dozen XACKs inside Redis. The ids
travel as arguments of their own, each group's preceded by its count, so the script
hands them to XACK as they came (``unpack``): splitting them out of one joined text in
Lua cost Redis more than the XACKs themselves (issue #18), while hiredis packs the
extra arguments in C.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..wire.result import NO_REASON, ExecutionResult
from .buckets import Layout

#: KEYS: stream, status hash. ARGV: group, bucket key prefix, ttl after bucket end,
#: then per group: bucket start, decision, reason ('' for none), symbol, the number of
#: its ids, then its ids. Returns the number newly counted per group, in order.
COMMIT_SCRIPT = """
local stream, status = KEYS[1], KEYS[2]
local group, prefix, keep = ARGV[1], ARGV[2], tonumber(ARGV[3])
local adds, expires, applied = {}, {}, {}
local total, unknown = 0, 0
local function add(key, name, n, bucket)
  local t = adds[key]
  if not t then t = {}; adds[key] = t; expires[key] = bucket + keep end
  t[name] = (t[name] or 0) + n
end
local i = 4
while i <= #ARGV do
  local start, decision, reason, symbol = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  local bucket = tonumber(start)
  local last = i + 4 + tonumber(ARGV[i+4])
  local acked = 0
  for j = i + 5, last, 1000 do  -- unpack is bounded by Lua's C stack
    acked = acked + redis.call('XACK', stream, group, unpack(ARGV, j, math.min(j + 999, last)))
  end
  i = last + 1
  applied[#applied + 1] = acked
  if acked > 0 then
    local base = prefix .. start
    total = total + acked
    if decision == 'UNKNOWN' then unknown = unknown + acked end
    add(base .. ':decisions', decision, acked, bucket)
    add(base .. ':symbols', symbol, acked, bucket)
    if reason ~= '' then
      add(base .. ':reasons', reason, acked, bucket)
      add(base .. ':reasons:' .. symbol, reason, acked, bucket)
    end
  end
end
for key, counts in pairs(adds) do
  local fresh = false
  for name, n in pairs(counts) do
    -- a new key has only new fields: EXPIREAT once a field is new, not every batch
    if redis.call('HINCRBY', key, name, n) == n then fresh = true end
  end
  if fresh then redis.call('EXPIREAT', key, expires[key]) end
end
if total > 0 then
  redis.call('HINCRBY', status, 'processed_total', total)
  if unknown > 0 then redis.call('HINCRBY', status, 'unknown_total', unknown) end
end
return applied
"""

#: (bucket start, decision, reason or '', symbol): one row of counts.
Group = tuple[int, str, str, str]


#: What a result adds to: decision, gate ('' for none), symbol, and whether its reason
#: had to be sanitised (counted as malformed).
Kind = tuple[str, str, str, bool]


def kind_of(result: ExecutionResult) -> Kind:
    # EXECUTE's reason (filled) and UNKNOWN's pseudo-reason (none) are not gates.
    decision, reason = result.decision, result.reason
    gate = "" if decision == "EXECUTE" or reason == NO_REASON else reason
    return decision, gate, result.symbol, bool(result.raw_reason)


class Classifier:
    """Each entry's :data:`Kind`, by the wire's own parse.

    Results repeat their decision, reason, symbol and names (a few dozen combinations):
    the first entry with given texts of ``wire.result.REPEATED_FIELDS`` is parsed whole and its
    kind remembered; a later one only has its varying fields checked
    (:meth:`ExecutionResult.check_varying`), the only ones that can still be at fault.
    Same kinds, same errors, without building a result per entry. Bounded.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._known: dict[tuple[str | None, ...], Kind] = {}
        self._limit = limit

    def __call__(self, fields: Mapping[str, str], now: float | None) -> Kind:
        get = fields.get
        # REPEATED_FIELDS, spelled out: this line runs once per entry. A missing field
        # (None) and an empty one are two keys that parse alike.
        key = (get("decision"), get("reason"), get("symbol"), get("bot"), get("strategy"))
        kind = self._known.get(key)
        if kind is None:
            kind = kind_of(ExecutionResult.parse(fields, now))
            if len(self._known) < self._limit:
                self._known[key] = kind
        else:
            ExecutionResult.check_varying(fields, now)
        return kind


@dataclass
class Tally:
    """Entries of one batch grouped by what they add to; built by the pure handler."""

    bucket_seconds: int
    groups: dict[Group, list[str]] = field(default_factory=dict)
    _millis: str = field(default="", repr=False, compare=False)
    _bucket: int = field(default=0, repr=False, compare=False)

    def add(self, entry_id: str, result: ExecutionResult) -> None:
        self.add_kind(entry_id, kind_of(result))

    def add_kind(self, entry_id: str, kind: Kind) -> None:
        decision, gate, symbol, _ = kind
        millis = entry_id[: entry_id.index("-")]
        if millis != self._millis:  # a batch's ids mostly share their millisecond
            seconds = int(millis) // 1000  # bucket_of, inlined: hot path
            self._millis, self._bucket = millis, seconds - seconds % self.bucket_seconds
        group = (self._bucket, decision, gate, symbol)
        ids = self.groups.get(group)
        if ids is None:
            self.groups[group] = [entry_id]
        else:
            ids.append(entry_id)

    def ids(self) -> list[str]:
        return [i for ids in self.groups.values() for i in ids]

    def script_args(self, group_name: str, layout: Layout) -> list[str | int]:
        keep = layout.bucket_seconds + layout.ttl_seconds
        args: list[str | int] = [group_name, layout.keys.intel_bucket(""), keep]
        for (bucket, decision, reason, symbol), ids in self.groups.items():
            args += [bucket, decision, reason, symbol, len(ids)]
            args += ids
        return args

    def applied(self, reply: Sequence[Any]) -> dict[str, int]:
        """Newly counted entries per decision, from the script's reply."""
        counts: dict[str, int] = {}
        for (_, decision, _, _), n in zip(self.groups, reply, strict=True):
            counts[decision] = counts.get(decision, 0) + int(n)
        return counts
