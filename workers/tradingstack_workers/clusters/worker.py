"""The clusters shell: read snapshots, extend the persisted history, decide, write, measure.

Every ``interval_seconds``: SCAN the snapshots (never KEYS) and read them in one
script, so all symbols are seen at one instant; append one point per symbol whose
snapshot is newer than its last point, keyed by this cycle's time (the alignment
key); compute clusters and ClusterStress (:mod:`.clustering`); on success write
``cluster_state`` and the audit stream exactly once, on a fail-closed result write
nothing and count it. ``warm_up`` loads the persisted history, so a restarted pod is
ready on its first cycle instead of after the seeds' 11-minute refill.

One instance writes (:class:`~..runtime.singleton.SingletonWorker`): the history, the
cluster state and its audit stream are fenced writes with the lease's epoch, so a
paused or partitioned former leader cannot overwrite its successor's answer. A new
leader reloads the history its predecessor extended; histories it finds in the format
before rows are moved into rows by its first write (:mod:`.history`).

The cycle's row of the history goes in the same fenced write as the cycle's answer (the
state and its audit entry, or the withdrawal): nothing is published from a history that
is not stored, in one round trip. If the write fails, the cycle fails and the in-memory
history keeps the point the stored one lacks: a restart reloads without it.
"""

from __future__ import annotations

import logging

import numpy as np
from threadpoolctl import threadpool_limits

from ..runtime.freshness import is_future
from ..runtime.leadership import Leadership
from ..runtime.loop import WorkerContext
from ..runtime.once import Command
from ..runtime.singleton import SingletonWorker
from ..runtime.symbol_scan import SnapshotSymbols
from ..wire import ClusterStateHash, audit_fields
from .book import PriceBook
from .clustering import ClusterState, Params, compute
from .correlation import FailClosed
from .freshness import frozen_symbols
from .history import HistoryStore
from .metrics import ClustersMetrics
from .settings import ClustersSettings
from .snapshots import FIELDS as SNAPSHOT_FIELDS
from .snapshots import Snapshots, parse_snapshots

log = logging.getLogger(__name__)

# Every snapshot at one instant, in one command however many symbols (a MULTI of 1000
# HGETALLs cost more to pack than Redis took to answer): the three fields of each, flat
# (one list of texts, no reply object per symbol); for a key lacking one of them, or of
# another type, its index and its whole hash (or the error) as well, to say why.
_READ_SNAPSHOTS = f"""
local values, whole = {{}}, {{}}
for i, key in ipairs(KEYS) do
  local v = redis.pcall('HMGET', key, {", ".join(f"'{f}'" for f in SNAPSHOT_FIELDS)})
  if v.err or not (v[1] and v[2] and v[3]) then
    whole[#whole + 1] = i - 1
    whole[#whole + 1] = redis.pcall('HGETALL', key)
    v = {{'', '', ''}}
  end
  values[3 * i - 2], values[3 * i - 1], values[3 * i] = v[1], v[2], v[3]
end
return {{values, whole}}
"""


def _fields(reply: object) -> object:
    """HGETALL's flat reply as a mapping (anything else, an error, as it came)."""
    if isinstance(reply, list):
        return dict(zip(reply[::2], reply[1::2], strict=True))
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
        self.book = PriceBook(settings.lookback_points)
        #: Symbols whose feed is frozen, as of the last cycle.
        self.frozen: set[str] = set()
        self.cycles = 0
        #: Histories found in the format before rows, moved into rows by the next write.
        self._legacy: tuple[str, ...] = ()
        self._read = ctx.redis.register_script(_READ_SNAPSHOTS)
        self._snapshot_symbols = SnapshotSymbols(ctx.redis, ctx.retry, ctx.keys)
        # The BLAS pool is the process's: bounded while this worker lives (a pod's whole
        # life), given back at close (a test's or a benchmark's process goes on).
        self._blas = threadpool_limits(limits=settings.blas_threads, user_api="blas")
        if settings.min_points_capped:
            log.warning(
                "lookback shorter than the sample the threshold needs; minimum capped",
                extra={"min_points": settings.required_points},
            )

    def warm_up(self) -> None:
        loaded = self.store.load(self.ctx.settings.symbols, now=self.ctx.clock())
        self.book, self._legacy = loaded.book, loaded.legacy
        self.metrics.set_points(self._tracked(None), self.book.counts())
        log.info(
            "price history loaded",
            extra={"symbols": len(self.book), "min_points": self.params.min_points},
        )

    def on_lead(self, epoch: int) -> None:
        # The previous leader extended the history after our warm-up.
        self.warm_up()

    def lead(self, epoch: int) -> None:
        now = self.ctx.clock()
        self.cycles += 1
        snapshots = self._read_snapshots(now)
        history = self._record(snapshots, now)
        self.metrics.set_points(self._tracked(snapshots), self.book.counts())
        frozen = self._frozen(snapshots, now)
        left_out = set(frozen)
        exposures = {
            symbol: exposure
            for symbol, exposure in zip(snapshots.symbols, snapshots.exposure.tolist(), strict=True)
            if symbol not in left_out
        }
        # The symbols a matrix is (or would be) over, on every cycle: a fail-closed cycle
        # says how many it needed, and CorrelationNotReady alerts only for two or more.
        self.metrics.symbols_in_matrix.set(sum(1 for e in exposures.values() if e != 0))
        result = compute(self.book, exposures, self.params)
        if isinstance(result, FailClosed):
            self.metrics.fail_closed.labels(reason=result.reason).inc()
            self.metrics.corr_ready.set(0)
            # No valid answer for this book: withdraw the last one, which described another
            # book (e.g. the empty one before the first positions), so the gate falls back
            # to its proxy at once instead of trusting it for up to its staleness window.
            self.writer.apply(epoch, "withdraw", [*history, ["DEL", self.ctx.keys.cluster_state]])
            self._stored()
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
        self._publish(result, now, frozen, epoch, history)
        self._stored()

    def _frozen(self, snapshots: Snapshots, now: float) -> tuple[str, ...]:
        """Symbols whose feed stopped changing: named in a metric and the log, left out."""
        frozen = frozen_symbols(self.book, snapshots.symbols, now, self.ctx.settings.frozen_after)
        newly = sorted(set(frozen) - self.frozen)
        for symbol, since in self.book.unchanged_since(newly).items():
            log.warning(
                "feed frozen: symbol left out of the correlation window",
                extra={"symbol": symbol, "unchanged_since": since},
            )
        for symbol in sorted(self.frozen - set(frozen)):
            log.info(
                "feed resumed: symbol back in the correlation window", extra={"symbol": symbol}
            )
        self.frozen = set(frozen)
        self.metrics.set_frozen(frozen)
        return frozen

    def _tracked(self, snapshots: Snapshots | None) -> list[str]:
        if self.ctx.settings.symbols:
            return list(self.ctx.settings.symbols)
        return sorted(set(self.book.symbols).union(snapshots.symbols if snapshots else ()))

    def close(self) -> None:
        self._blas.restore_original_limits()
        super().close()

    def _read_snapshots(self, now: float) -> Snapshots:
        keys = self.ctx.keys
        symbols = self._snapshot_symbols.read().only(set(self.ctx.settings.symbols))
        names = [keys.snapshot(symbol) for symbol in symbols]
        values, whole = self.ctx.retry.run(lambda: self._read(names), "read snapshots")
        rows = {int(whole[k]): _fields(whole[k + 1]) for k in range(0, len(whole), 2)}
        snapshots, skipped = parse_snapshots(symbols, values, rows, now)
        for skip in skipped:
            self.metrics.snapshots_skipped.labels(reason=skip.error.fault).inc()
            log.warning(
                "snapshot skipped",
                extra={"symbol": skip.symbol, "reason": skip.error.fault, "error": str(skip.error)},
            )
        return snapshots

    def _record(self, snapshots: Snapshots, now: float) -> list[Command]:
        """Append a point for each snapshot newer than its symbol's last point, in memory;
        the commands storing them, for the cycle's fenced write.

        A ``ts_epoch`` in milliseconds or further ahead than the tolerated skew never
        gets here (the snapshot's parse refuses it and it is counted): stored, it would
        make every later snapshot of the symbol look "not newer" and freeze it (review
        D6). A last point already stored with such a stamp does not block newer
        snapshots either.
        """
        last_key, last_ts = self.book.last(snapshots.symbols)
        # NaN (no point yet) compares False everywhere: such a symbol always takes one.
        with np.errstate(invalid="ignore"):
            ahead = is_future(last_ts, now)  # a stamp not to trust
            stale = ~ahead & (snapshots.ts_epoch <= last_ts)
            # The clock stepped back (never sample into the past), or nothing new.
            fresh = np.flatnonzero(~((last_key > now) | stale))
        symbols = [snapshots.symbols[i] for i in fresh.tolist()]
        self.book.append(symbols, now, snapshots.mark_price[fresh], snapshots.ts_epoch[fresh])
        if self._legacy:
            return self.store.rewrite_commands(self.book, now, self._legacy)
        return self.store.append_commands(self.book, now) if symbols else []

    def _stored(self) -> None:
        """The cycle's write landed: histories of the format before rows are moved."""
        if self._legacy:
            log.info("price histories moved into rows", extra={"symbols": len(self._legacy)})
            self._legacy = ()

    def _publish(
        self,
        state: ClusterState,
        now: float,
        frozen: tuple[str, ...],
        epoch: int,
        history: list[Command],
    ) -> None:
        """The state and its audit entry, marked degraded (``frozen``) when symbols were
        left out (the gate then knows it does not describe those symbols), written with
        the ``history`` commands of the cycle."""
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
        commands = [*history, hset, xadd]
        self.writer.apply(epoch, "cluster_state", commands, op_id=f"p27:{epoch}:{now!r}")
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
