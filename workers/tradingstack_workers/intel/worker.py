"""The intel worker's shell: read results, tally them, commit with the XACK, alert, report.

Each step reads one batch (hundreds of entries), parses and groups it in memory
(:class:`.tally.Tally`, pure), then commits counts and acknowledgement in one
MULTI/EXEC through the shared consumer's ``commit`` hook. Malformed entries are
dead-lettered in the same transaction. Between batches, on their own clocks, it
refreshes the status hash (pending, lag) and runs the P3.5.1 alert check.
"""

from __future__ import annotations

import logging
import time

from .. import keys as _keys
from ..runtime.loop import Worker, WorkerContext
from ..runtime.streams import StreamConfig, StreamConsumer, StreamEntry
from ..wire.errors import BadEntry
from .alerts import AlertPolicy, evaluate, top_reason
from .buckets import Layout
from .metrics import IntelMetrics
from .settings import IntelSettings
from .store import GROUP, IntelStore
from .tally import Classifier, Tally

log = logging.getLogger(__name__)


def stream_config(settings: IntelSettings, keys: _keys.Keys) -> StreamConfig:
    return settings.stream_config(keys.result_stream, GROUP, keys.dead_letter(keys.result_stream))


def policy_from(settings: IntelSettings) -> AlertPolicy:
    return AlertPolicy(
        medium_pct=settings.alert_medium_pct,
        high_pct=settings.alert_high_pct,
        critical_pct=settings.alert_critical_pct,
        window_seconds=settings.alert_window_seconds,
        dedup_seconds=settings.alert_dedup_seconds,
        min_total=settings.alert_min_total,
    )


def layout_from(settings: IntelSettings, keys: _keys.Keys) -> Layout:
    return Layout(keys, settings.bucket_seconds, settings.bucket_ttl_seconds)


class IntelWorker(Worker[IntelSettings]):
    cycle_seconds = 0.0  # each step blocks on a bounded stream read

    def __init__(self, ctx: WorkerContext[IntelSettings]) -> None:
        super().__init__(ctx)
        settings = ctx.settings
        self.metrics = IntelMetrics.create(ctx.registry)
        self.policy = policy_from(settings)
        self.store = IntelStore(ctx.redis, ctx.retry, layout_from(settings, ctx.keys))
        self.consumer = StreamConsumer(
            ctx.redis, ctx.retry, stream_config(settings, ctx.keys), permanent_errors=(BadEntry,)
        )
        self.classify = Classifier()
        self._next_status = 0.0
        self._next_check = 0.0

    def warm_up(self) -> None:
        self.consumer.ensure_group()

    def step(self) -> None:
        entries = self.consumer.fetch()
        if entries:
            self.count(entries)
        now = time.monotonic()
        if now >= self._next_status:
            self._next_status = now + self.ctx.settings.status_interval_seconds
            self.refresh_status()
        if now >= self._next_check:
            self._next_check = now + self.ctx.settings.alert_check_seconds
            self.check_alerts()

    def count(self, entries: list[StreamEntry]) -> int:
        """Tally a batch and commit it with its acknowledgement; returns entries newly counted."""
        tally = Tally(self.ctx.settings.bucket_seconds)
        now = self.ctx.clock()  # every entry of the batch was written before this read
        report = self.consumer.process_batch(
            entries,
            lambda batch: tally.add_entries(batch, self.classify, now),
            commit=lambda pipe, _ids: self.store.queue_commit(pipe, tally),
        )
        if tally.sanitised:
            self.metrics.malformed.labels(field="reason").inc(tally.sanitised)
        for letter in report.dead:
            self.metrics.dead_lettered.labels(cause=letter.cause).inc()
            if isinstance(letter.exc, BadEntry):
                self.metrics.malformed.labels(field=letter.exc.field).inc()
        if report.committed is None:
            return 0
        applied = tally.applied(report.committed)
        self.metrics.counted(applied)
        return sum(applied.values())

    def refresh_status(self) -> None:
        """Pending and lag of the group (XINFO GROUPS) into the status hash and gauges."""
        health = self.store.health()
        group = health.group or {}
        pending, lag = group.get("pending"), group.get("lag")
        if pending is not None:
            self.metrics.pending.set(int(pending))
        if lag is not None:
            self.metrics.lag.set(int(lag))
        self.store.write_status(
            {
                "pending": str(pending if pending is not None else ""),
                "lag": str(lag if lag is not None else ""),
                "updated_ts": repr(round(self.ctx.clock(), 3)),
                "updated_by": self.ctx.settings.instance,
            }
        )

    def check_alerts(self) -> None:
        """P3.5.1: the top reason's share of the window; raise at most one alert per period."""
        now = self.ctx.clock()
        window = self.store.read_window(now, self.policy.window_seconds)
        top = top_reason(window.reasons)
        total = window.total
        counted = top is not None and total >= self.policy.min_total
        # Below min_total a share means nothing (one skip is 100 %): the gauge the
        # PrometheusRule reads says 0 then, like the stream alert.
        self.metrics.top_share.set(top[1] / total if top and counted else 0.0)
        if top is None:
            return
        last = self.store.last_alerted(self.policy.window, top[0])
        alert = evaluate(window.reasons, total, now, self.policy, last)
        if alert is None or not self.store.publish_alert(alert, self.policy.dedup_seconds):
            return
        self.metrics.alerts.labels(severity=alert.severity).inc()
        log.warning(
            "gate explosion alert",
            extra={"event": "p35_alert", **alert.to_fields()},
        )
