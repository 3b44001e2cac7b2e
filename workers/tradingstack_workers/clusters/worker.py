"""The clusters shell: read snapshots, extend the persisted history, decide, write, measure.

Every ``interval_seconds``: SCAN the snapshots (never KEYS) and read them in one
MULTI, so all symbols are seen at one instant; append one point per symbol whose
snapshot is newer than its last point, keyed by this cycle's time (the alignment
key); compute clusters and ClusterStress (:mod:`.clustering`); on success write
``cluster_state`` and the audit stream exactly once, on a fail-closed result write
nothing and count it. ``warm_up`` loads the persisted history, so a restarted pod is
ready on its first cycle instead of after the seeds' 11-minute refill.

One instance writes (:class:`~..runtime.singleton.SingletonWorker`): the history, the
cluster state and its audit stream are fenced writes with the lease's epoch, so a
paused or partitioned former leader cannot overwrite its successor's answer. A new
leader reloads the history its predecessor extended.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..runtime.freshness import is_future
from ..runtime.leadership import Leadership
from ..runtime.loop import WorkerContext
from ..runtime.singleton import SingletonWorker
from ..wire import BadEntry, ClusterStateHash, Fault, PositionSnapshot, audit_fields, is_symbol
from .clustering import ClusterState, Params, compute
from .correlation import FailClosed
from .freshness import frozen_symbols, unchanged_since
from .history import HistoryStore, SampledPoint
from .metrics import ClustersMetrics
from .settings import ClustersSettings

log = logging.getLogger(__name__)


def _hash(reply: object) -> dict[str, str]:
    """A snapshot hash, or :class:`BadEntry` for an empty key or one of another type."""
    if not isinstance(reply, dict):
        raise BadEntry("type", f"not a hash ({reply})", Fault.BAD_FORMAT)
    if not reply:
        raise BadEntry("snapshot", "empty (deleted since the scan)", Fault.MISSING)
    return reply


class ClustersWorker(SingletonWorker[ClustersSettings]):
    def __init__(
        self, ctx: WorkerContext[ClustersSettings], elect: Leadership | None = None
    ) -> None:
        super().__init__(ctx, ctx.settings.interval_seconds, elect=elect)
        settings = ctx.settings
        self.metrics = ClustersMetrics.create(ctx.registry)
        self.store = HistoryStore(
            ctx.redis,
            ctx.retry,
            ctx.keys,
            lookback=settings.lookback_points,
            ttl_seconds=settings.history_ttl_seconds,
        )
        self.params = Params(
            threshold=settings.correlation_threshold,
            lookback=settings.lookback_points,
            min_points=settings.required_points,
        )
        self.histories: dict[str, list[SampledPoint]] = {}
        #: Symbols whose feed is frozen, as of the last cycle.
        self.frozen: set[str] = set()
        self.cycles = 0
        if settings.min_points_capped:
            log.warning(
                "lookback shorter than the sample the threshold needs; minimum capped",
                extra={"min_points": settings.required_points},
            )

    def warm_up(self) -> None:
        self.histories = self.store.load(self.ctx.settings.symbols)
        self.metrics.set_points(self._tracked(()), self._counts())
        log.info(
            "price history loaded",
            extra={"symbols": len(self.histories), "min_points": self.params.min_points},
        )

    def on_lead(self, epoch: int) -> None:
        # The previous leader extended the history after our warm-up.
        self.warm_up()

    def lead(self, epoch: int) -> None:
        now = self.ctx.clock()
        self.cycles += 1
        snapshots = self._read_snapshots(now)
        self._record(snapshots, now, epoch)
        self.metrics.set_points(self._tracked(snapshots), self._counts())
        frozen = self._frozen(snapshots, now)
        exposures = {s.symbol: s.exposure for s in snapshots if s.symbol not in frozen}
        # The symbols a matrix is (or would be) over, on every cycle: a fail-closed cycle
        # says how many it needed, and CorrelationNotReady alerts only for two or more.
        self.metrics.symbols_in_matrix.set(sum(1 for e in exposures.values() if e != 0))
        result = compute(self.histories, exposures, self.params)
        if isinstance(result, FailClosed):
            self.metrics.fail_closed.labels(reason=result.reason).inc()
            self.metrics.corr_ready.set(0)
            # No valid answer for this book: withdraw the last one, which described another
            # book (e.g. the empty one before the first positions), so the gate falls back
            # to its proxy at once instead of trusting it for up to its staleness window.
            self.writer.apply(epoch, "withdraw", [["DEL", self.ctx.keys.cluster_state]])
            log.warning(
                "cycle",
                extra={
                    "cycle": self.cycles,
                    "outcome": "fail_closed",
                    "reason": result.reason,
                    "detail": result.detail,
                },
            )
            return
        self._publish(result, now, frozen, epoch)

    def _frozen(self, snapshots: Sequence[PositionSnapshot], now: float) -> tuple[str, ...]:
        """Symbols whose feed stopped changing: named in a metric and the log, left out."""
        frozen = frozen_symbols(
            self.histories, (s.symbol for s in snapshots), now, self.ctx.settings.frozen_after
        )
        for symbol in sorted(set(frozen) - self.frozen):
            log.warning(
                "feed frozen: symbol left out of the correlation window",
                extra={
                    "symbol": symbol,
                    "unchanged_since": unchanged_since(self.histories[symbol]),
                },
            )
        for symbol in sorted(self.frozen - set(frozen)):
            log.info(
                "feed resumed: symbol back in the correlation window", extra={"symbol": symbol}
            )
        self.frozen = set(frozen)
        self.metrics.set_frozen(frozen)
        return frozen

    def _tracked(self, snapshots: Sequence[PositionSnapshot]) -> list[str]:
        if self.ctx.settings.symbols:
            return list(self.ctx.settings.symbols)
        return sorted(set(self.histories) | {s.symbol for s in snapshots})

    def _counts(self) -> dict[str, int]:
        return {symbol: len(points) for symbol, points in self.histories.items()}

    def _read_snapshots(self, now: float) -> list[PositionSnapshot]:
        keys = self.ctx.keys
        prefix = keys.snapshot("")
        found = self.ctx.retry.run(
            lambda: list(self.ctx.redis.scan_iter(match=keys.snapshot_pattern, count=500)),
            "scan snapshots",
        )
        allowed = set(self.ctx.settings.symbols)
        symbols = sorted(
            s
            for s in (k.removeprefix(prefix) for k in found)
            if is_symbol(s) and (not allowed or s in allowed)
        )

        def read() -> list[object]:
            pipe = self.ctx.redis.pipeline(transaction=True)
            for symbol in symbols:
                pipe.hgetall(keys.snapshot(symbol))
            return list(pipe.execute(raise_on_error=False))

        snapshots: list[PositionSnapshot] = []
        for symbol, reply in zip(symbols, self.ctx.retry.run(read, "read snapshots"), strict=True):
            try:
                snapshots.append(PositionSnapshot.parse(symbol, _hash(reply), now))
            except BadEntry as exc:
                self.metrics.snapshots_skipped.labels(reason=exc.fault).inc()
                log.warning(
                    "snapshot skipped",
                    extra={"symbol": symbol, "reason": exc.fault, "error": str(exc)},
                )
        return snapshots

    def _record(self, snapshots: list[PositionSnapshot], now: float, epoch: int) -> None:
        """Append a point for each snapshot newer than its symbol's last point.

        A ``ts_epoch`` in milliseconds or further ahead than the tolerated skew never
        gets here (the snapshot's parse refuses it and it is counted): stored, it would
        make every later snapshot of the symbol look "not newer" and freeze it (review
        D6). A last point already stored with such a stamp does not block newer
        snapshots either.
        """
        fresh: dict[str, SampledPoint] = {}
        for snap in snapshots:
            history = self.histories.get(snap.symbol)
            last = history[-1].snapshot_ts if history else None
            if last is not None and not is_future(last, now) and snap.ts_epoch <= last:
                continue
            fresh[snap.symbol] = SampledPoint(
                key=now, price=snap.mark_price, snapshot_ts=snap.ts_epoch
            )
        if fresh:
            self.writer.apply(epoch, "history", self.store.append_commands(fresh))
        lookback = self.params.lookback
        for symbol, point in fresh.items():
            kept = [p for p in self.histories.get(symbol, []) if p.key != point.key]
            self.histories[symbol] = [*kept, point][-lookback:]

    def _publish(
        self, state: ClusterState, now: float, frozen: tuple[str, ...], epoch: int
    ) -> None:
        """The state and its audit entry, marked degraded (``frozen``) when symbols were
        left out: the gate then knows it does not describe those symbols."""
        keys, settings = self.ctx.keys, self.ctx.settings
        # ``symbols``: the book the stress describes; the gate uses it only for a book it
        # covers.
        published = ClusterStateHash(
            cluster_stress=state.stress,
            clusters_count=state.clusters_count,
            updated_ts=now,
            symbols=state.symbols,
            frozen=frozen,
        )
        fields = published.to_fields()
        audit = audit_fields(published, state.clusters, state.points)
        hset: list[str | int | float] = [
            "HSET",
            keys.cluster_state,
            *(x for kv in fields.items() for x in kv),
        ]
        xadd: list[str | int | float] = [
            "XADD",
            keys.cluster_state_stream,
            "MAXLEN",
            "~",
            settings.stream_maxlen,
            "*",
            *(x for kv in audit.items() for x in kv),
        ]
        self.writer.apply(epoch, "cluster_state", [hset, xadd], op_id=f"p27:{epoch}:{now!r}")
        m = self.metrics
        # Published with fewer than two positions too (the gate's K for a one-symbol book
        # is 0), but no correlation was computed: not ready (review D4).
        m.corr_ready.set(1 if state.correlated else 0)
        m.clusters_count.set(state.clusters_count)
        m.cluster_stress.set(state.stress)
        m.updates.inc()
        log.info(
            "cycle",
            extra={
                "cycle": self.cycles,
                "outcome": "updated",
                "cluster_stress": state.stress,
                "clusters": [list(c) for c in state.clusters],
                "points": state.points,
                "frozen": list(frozen),
            },
        )
