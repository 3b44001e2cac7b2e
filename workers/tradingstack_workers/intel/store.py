"""The intel worker's and report's Redis I/O: commit a batch, read windows, alerts, health.

Reads are safe to retry; the batch commit is made safe to retry by its script (see
:mod:`.tally`); an alert is published by a script that sets the dedup key (NX, with
the dedup period as TTL) and adds the event only if it set it, so two replicas, or
one retried call, raise it once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from ..runtime.redis_client import RetryPolicy
from .alerts import SEVERITIES, Alert, Severity
from .buckets import Layout, Window, window_starts
from .tally import COMMIT_SCRIPT, Tally

GROUP = "p35_decision_intel"
#: The alerts stream keeps about this many events.
ALERTS_MAXLEN = 10_000

_PUBLISH_ALERT = """
if tonumber(ARGV[1]) > 0 then
  if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[1]) then return 0 end
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4))
return 1
"""


@dataclass(frozen=True)
class Health:
    """Query E's inputs: the status hash and the group as XINFO reports it."""

    status: dict[str, str]
    group: dict[str, Any] | None
    consumers: list[dict[str, Any]] = field(default_factory=list)


class IntelStore:
    def __init__(self, client: redis.Redis, retry: RetryPolicy, layout: Layout) -> None:
        self._client = client
        self._retry = retry
        self.layout = layout
        self.keys = layout.keys

    def queue_commit(self, pipe: redis.client.Pipeline, tally: Tally) -> None:
        """Queue the batch's counts and acknowledgement (one script) into ``pipe``."""
        args = tally.script_args(GROUP, self.layout)
        # EVAL, not EVALSHA: after a failover the new master lacks the script cache.
        pipe.eval(COMMIT_SCRIPT, 2, self.keys.result_stream, self.keys.intel_status, *args)

    def read_window(
        self, now: float, window_seconds: int, symbols: Sequence[str] | None = None
    ) -> Window:
        """Counts of the window ending at ``now``; per-symbol reasons when ``symbols`` is
        given (an empty list means every symbol seen in the window)."""
        layout = self.layout
        starts = window_starts(now, window_seconds, layout.bucket_seconds)

        def read() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for start in starts:
                pipe.hgetall(layout.decisions(start))
                pipe.hgetall(layout.reasons(start))
                pipe.hgetall(layout.symbols(start))
            return pipe.execute()

        replies = self._retry.run(read, "read window")
        decisions, reasons, seen = replies[0::3], replies[1::3], replies[2::3]
        per_symbol: dict[str, list[Any]] = {}
        if symbols is not None:
            wanted = list(symbols) or sorted({s for counts in seen for s in counts})

            def read_symbols() -> list[Any]:
                pipe = self._client.pipeline(transaction=False)
                for symbol in wanted:
                    for start in starts:
                        pipe.hgetall(layout.symbol_reasons(start, symbol))
                return pipe.execute()

            flat = self._retry.run(read_symbols, "read symbol reasons") if wanted else []
            n = len(starts)
            per_symbol = {s: flat[i * n : (i + 1) * n] for i, s in enumerate(wanted)}
        return Window.sum(
            starts,
            layout.bucket_seconds,
            decisions=decisions,
            reasons=reasons,
            symbols=seen,
            symbol_reasons=per_symbol or None,
        )

    def last_alerted(self, window: str, reason: str) -> dict[tuple[str, Severity], float]:
        """When ``reason`` last alerted in ``window``, per severity (within the TTL)."""
        keys = [self.keys.intel_alert_dedup(window, reason, s) for s in SEVERITIES]
        values = self._retry.run(lambda: self._client.mget(keys), "read alert dedup")
        return {
            (reason, level): float(value)
            for level, value in zip(SEVERITIES, values, strict=True)
            if value is not None
        }

    def publish_alert(self, alert: Alert, dedup_seconds: int) -> bool:
        """XADD the alert unless another replica raised it within the period."""
        keys = [
            self.keys.intel_alert_dedup(alert.window, alert.reason, alert.severity),
            self.keys.intel_alerts_stream,
        ]
        flat = [x for kv in alert.to_fields().items() for x in kv]
        args: list[str | int] = [dedup_seconds, alert.timestamp, ALERTS_MAXLEN, *flat]
        added = self._retry.run(
            lambda: self._client.eval(_PUBLISH_ALERT, len(keys), *keys, *args), "publish alert"
        )
        return bool(added)

    def health(self) -> Health:
        stream = self.keys.result_stream

        def read() -> Health:
            status = cast("dict[str, str]", self._client.hgetall(self.keys.intel_status))
            try:
                groups = self._client.xinfo_groups(stream)
            except redis.ResponseError:  # no stream yet
                return Health(status, None)
            group = next((g for g in groups if str(g["name"]) == GROUP), None)
            consumers = list(self._client.xinfo_consumers(stream, GROUP)) if group else []
            return Health(status, group, consumers)

        return self._retry.run(read, "read health")

    def write_status(self, fields: Mapping[str, str]) -> None:
        """Whole-value HSET: safe to retry."""
        key = self.keys.intel_status
        mapping: dict[Any, Any] = dict(fields)
        self._retry.run(lambda: self._client.hset(key, mapping=mapping), "write status")
