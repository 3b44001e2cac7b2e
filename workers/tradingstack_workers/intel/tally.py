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
from itertools import repeat
from operator import itemgetter
from typing import Any

from ..runtime.streams import StreamEntry
from ..wire.result import NO_REASON, REPEATED_FIELDS, ExecutionResult
from .buckets import Layout, bucket_of

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


#: A handled batch's entries that could not be counted, each with its error.
Failures = list[tuple[StreamEntry, Exception]]


@dataclass
class Tally:
    """Entries of one batch grouped by what they add to; built by the pure handler."""

    bucket_seconds: int
    groups: dict[Group, list[str]] = field(default_factory=dict)
    #: Entries whose reason had to be sanitised (counted as malformed, not dead-lettered).
    sanitised: int = 0

    def add(self, entry_id: str, result: ExecutionResult) -> None:
        self._ids(bucket_of(entry_id, self.bucket_seconds), kind_of(result)).append(entry_id)

    def _ids(self, bucket: int, kind: Kind) -> list[str]:
        decision, gate, symbol, sanitised = kind
        self.sanitised += sanitised
        return self.groups.setdefault((bucket, decision, gate, symbol), [])

    def add_entries(
        self, entries: Sequence[StreamEntry], classify: Classifier, now: float
    ) -> Failures:
        """Group a batch read at ``now``; the entries refused, with their :class:`BadEntry`.

        The usual batch (every ``ts`` and ``proposal_id`` plain, checked at once by
        :meth:`ExecutionResult.varying_usual`) costs one dict lookup per entry: the
        repeated fields are gathered in C, and entries with the same texts in the same
        bucket go to the same list. Otherwise each entry is classified on its own.
        """
        failed: Failures = []
        batch = list(map(itemgetter(1), entries))
        shortcut = ExecutionResult.varying_usual(batch, now)
        texts = [map(dict.get, batch, repeat(name)) for name in REPEATED_FIELDS]
        key_of = zip(*texts, strict=True)
        size = self.bucket_seconds
        millis, bucket = "-", 0  # no stream id starts with "-"
        lists: dict[tuple[str | None, ...], list[str]] = {}  # by key, for ``bucket``
        for entry, key in zip(entries, key_of, strict=True):
            entry_id = entry[0]
            if not entry_id.startswith(millis):  # a batch's ids mostly share their millisecond
                millis = entry_id[: entry_id.index("-") + 1]
                seconds = int(millis[:-1]) // 1000  # bucket_of, inlined: hot path
                if seconds - seconds % size != bucket:
                    bucket, lists = seconds - seconds % size, {}
            ids = lists.get(key) if shortcut else None
            if ids is None:
                try:
                    kind = classify(entry[1], now)
                except Exception as exc:  # each entry fails alone; the consumer sorts it out
                    failed.append((entry, exc))
                    continue
                ids = self._ids(bucket, kind)
                if not kind[3]:  # a sanitised reason is counted entry by entry
                    lists[key] = ids
            ids.append(entry_id)
        return failed

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
