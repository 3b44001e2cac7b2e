"""The gate's shell: read proposals, judge each with :func:`decide`, write permits, measure.

One view of the portfolio is read per batch: every proposal in a batch arrived
before the read, so judging them against it is what serial handling within the
same milliseconds would do, at one round trip instead of hundreds. Each grant adds its
reservation to that view before the next proposal is judged; when another replica
granted something since the view was read, the grant is not written and the proposal
is judged again on a fresh view (:mod:`.reservations`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from .. import keys as _keys
from ..runtime.loop import Worker, WorkerContext
from ..runtime.streams import StreamConfig, StreamConsumer, StreamEntry
from ..wire.errors import BadEntry
from ..wire.proposal import Permit, Proposal
from ..wire.reservation import Reservation
from .decide import GateLimits, Verdict, decide, figures
from .metrics import GateMetrics
from .reservations import NOTHING, Conflict, DecisionWriter, add
from .settings import GateSettings
from .store import GateStore, ViewRead

log = logging.getLogger(__name__)

GROUP = "p26_gate"
#: Re-decisions of one proposal after other replicas' grants before the batch gives up
#: (its entries are then redelivered); each conflict means another replica progressed.
MAX_CONFLICTS = 100


def limits_from(settings: GateSettings) -> GateLimits:
    return GateLimits(
        leverage_cap=settings.leverage_cap,
        max_heat=settings.max_heat,
        max_stress=settings.max_stress,
        w_heat=settings.stress_weight_heat,
        w_conc=settings.stress_weight_conc,
        w_k=settings.stress_weight_k,
        cluster_stale_s=settings.cluster_stale_seconds,
        portfolio_stale_s=settings.portfolio_stale_seconds,
        max_proposal_age_s=settings.max_proposal_age_seconds,
    )


def stream_config(settings: GateSettings, keys: _keys.Keys) -> StreamConfig:
    return settings.stream_config(
        keys.proposal_stream, GROUP, keys.dead_letter(keys.proposal_stream)
    )


class GateWorker(Worker[GateSettings]):
    cycle_seconds = 0.0  # each step blocks on a bounded stream read

    def __init__(self, ctx: WorkerContext[GateSettings]) -> None:
        super().__init__(ctx)
        settings = ctx.settings
        self.limits = limits_from(settings)
        self.metrics = GateMetrics.create(ctx.registry)
        self.consumer = StreamConsumer(
            ctx.redis, ctx.retry, stream_config(settings, ctx.keys), permanent_errors=(BadEntry,)
        )
        self.store = GateStore(
            ctx.redis,
            ctx.retry,
            ctx.once,
            ctx.keys,
            rescan_seconds=settings.snapshot_rescan_seconds,
            decisions=DecisionWriter(
                ctx.redis,
                ctx.retry,
                ctx.keys,
                replicas=settings.write_replicas,
                replica_timeout_ms=settings.redis_write_replica_timeout_ms,
            ),
        )
        self._aged: set[str] = set()
        self._next_heat = 0.0

    def warm_up(self) -> None:
        self.consumer.ensure_group()

    def step(self) -> None:
        entries = self.consumer.fetch()
        if not entries:
            if time.monotonic() >= self._next_heat:
                self._publish_heat()
            return
        symbols = {e.fields.get("symbol", "") for e in entries} - {""}
        read = self._read_view(symbols)
        report = self.consumer.process(entries, lambda e: self.handle(e, read))
        for letter in report.dead:
            self.metrics.dead_lettered.labels(cause=letter.cause).inc()
            if isinstance(letter.exc, BadEntry):
                self.metrics.bad_proposals.labels(field=letter.exc.field).inc()
        self._next_heat = time.monotonic() + self.ctx.settings.heat_publish_seconds

    def _read_view(self, symbols: set[str]) -> ViewRead:
        read = self.store.read_view(self.ctx.clock(), symbols)
        for symbol, bad in read.malformed:
            self.metrics.snapshot_malformed.labels(field=bad.field).inc()
            log.warning(
                "snapshot skipped", extra={"symbol": symbol, "field": bad.field, "error": str(bad)}
            )
        for name, bad in read.inputs_malformed:
            self.metrics.input_malformed.labels(input=name, field=bad.field).inc()
            log.warning("input malformed", extra={"input": name, "error": str(bad)})
        self.metrics.snapshot_ages(read.snapshot_ages, self._aged)
        self._aged = set(read.snapshot_ages)
        return read

    def _publish_heat(self) -> None:
        view = self._read_view(set()).view
        book = {s: p.exposure for s, p in view.positions.items()}
        heat = figures(book, view.equity_usd, self.limits.leverage_cap).heat
        self.store.publish_heat(heat, view.now)
        self.metrics.portfolio_heat.set(heat)
        self._next_heat = time.monotonic() + self.ctx.settings.heat_publish_seconds

    def handle(self, entry: StreamEntry, read: ViewRead) -> None:
        """Judge one proposal and write its permit once; BadEntry dead-letters it.

        ``read`` is the batch's view; a grant's reservation is added to it in place.
        """
        picked = time.perf_counter()
        proposal = Proposal.parse(entry.fields, read.view.now)
        for _ in range(MAX_CONFLICTS):
            try:
                verdict = self._decide_once(proposal, read)
                break
            except Conflict:
                self.metrics.reservation_conflicts.inc()
                fresh = self._read_view({proposal.symbol})
                read.view, read.version, read.drop = fresh.view, fresh.version, fresh.drop
        else:
            raise RuntimeError(f"{proposal.proposal_id}: {MAX_CONFLICTS} grants raced this one")
        self.metrics.record(verdict, time.perf_counter() - picked)
        self.metrics.portfolio_heat.set(verdict.heat_now)
        self._log(entry, proposal, verdict)

    def _decide_once(self, proposal: Proposal, read: ViewRead) -> Verdict:
        view = read.view
        verdict = decide(proposal, view, self.limits)
        permit = Permit(
            granted=verdict.permit,
            reason=verdict.reason,
            proposal_id=proposal.proposal_id,
            symbol=proposal.symbol,
            side=proposal.side,
            heat=verdict.heat,
            conc=verdict.conc,
            corr_proxy=verdict.corr_proxy,
            k=verdict.k,
            k_source=verdict.k_source,
            stress=verdict.stress,
            issued_ts=self.ctx.clock(),
        )
        settings = self.ctx.settings
        reservation = None
        if verdict.permit and verdict.reason != "reducing":
            reservation = Reservation(
                proposal.proposal_id,
                proposal.symbol,
                proposal.signed_qty,
                proposal.price,
                permit.issued_ts + settings.permit_ttl_seconds,
            )
        applied = self.store.write_decision(
            proposal,
            verdict,
            permit,
            settings.permit_ttl_seconds,
            settings.instance,
            reservation=reservation,
            read=read,
        )
        if applied and reservation is not None:
            # Ours now: the next proposal of the batch is judged with it, and our own grant
            # raised the version by one.
            reserved = dict(view.reserved)
            reserved[proposal.symbol] = add(reserved.get(proposal.symbol, NOTHING), reservation)
            read.view = replace(view, reserved=reserved)
            read.version += 1
        if applied:
            read.drop = []
        return verdict

    def _log(self, entry: StreamEntry, proposal: Proposal, verdict: Verdict) -> None:
        log.info(
            f"heat={verdict.heat:.3f}, conc={verdict.conc:.3f}, "
            f"corr_proxy={verdict.corr_proxy:.3f}, K={verdict.k:.3f} ({verdict.k_source}), "
            f"stress={verdict.stress:.3f}",
            extra={
                "event": "decision",
                "proposal_id": proposal.proposal_id,
                "symbol": proposal.symbol,
                "side": proposal.side,
                "granted": verdict.permit,
                "reason": verdict.reason,
                "heat": round(verdict.heat, 6),
                "conc": round(verdict.conc, 6),
                "corr_proxy": round(verdict.corr_proxy, 6),
                "k": round(verdict.k, 6),
                "k_source": verdict.k_source,
                "k_fallback": verdict.k_fallback,
                "stress": round(verdict.stress, 6),
                "entry": entry.id,
                "deliveries": entry.deliveries,
            },
        )
