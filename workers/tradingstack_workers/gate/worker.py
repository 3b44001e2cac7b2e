"""The gate's shell: read proposals, judge each with :func:`decide`, write permits, measure.

One view of the portfolio is read per batch: every proposal in a batch arrived
before the read, so judging them against it is what serial handling within the
same milliseconds would do, at one round trip instead of hundreds. Each grant adds its
reservation to that view before the next proposal is judged. The batch's permits,
audit entries, heat and reservations are then written by one script call, each
proposal at most once (a redelivered one keeps its first decision); when other
replicas granted more since the view was read than the batch's grants leave room for,
nothing is written and the whole batch is judged again on a fresh view
(:mod:`.reservations`). Entries are acknowledged by that write, in the same script.
"""

from __future__ import annotations

import logging
import math
import time

from .. import keys as _keys
from ..runtime.loop import Worker, WorkerContext
from ..runtime.redis_client import RedisUnavailable, Stopping
from ..runtime.streams import ReadAhead, StreamConfig, StreamConsumer, StreamEntry
from ..wire.errors import BadEntry
from ..wire.proposal import Permit, Proposal
from ..wire.reservation import Reservation
from .batch import Tally, batch_line
from .book import Book
from .decide import GateLimits, Verdict, decide
from .figures import figures
from .metrics import GateMetrics
from .reservations import Conflict, Decision, DecisionWriter, headroom_usd
from .settings import GateSettings
from .store import GateStore, ViewQuery, ViewRead

log = logging.getLogger(__name__)

GROUP = "p26_gate"
#: Re-decisions of one batch after other replicas' grants before it gives up (its
#: entries are then redelivered); each conflict means another replica progressed.
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
        self._ahead: ReadAhead[ViewQuery] | None = None
        self._closing = False
        self._next_heat = 0.0
        counted = ctx.retry.on_retry

        def on_retry() -> None:
            self.store.forget_reservations()
            counted()

        ctx.retry.on_retry = on_retry

    def warm_up(self) -> None:
        self.consumer.ensure_group()

    def step(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.entries:
            # Read, with the book, in the last batch's write round trip.
            entries, query = ahead.entries, ahead.along
        else:
            # The book is read in the stream read's round trip, once entries arrive.
            query = self.store.view_query()
            entries = self.consumer.fetch(query)
        if not entries:
            if time.monotonic() >= self._next_heat:
                self._publish_heat(query)
            return
        picked = time.perf_counter()
        symbols = {e.fields.get("symbol", "") for e in entries} - {""}
        read = self._read_view(symbols, query)
        failures, acknowledged = self.decide_batch(entries, read, picked)

        def settled(entry: StreamEntry) -> None:
            failure = failures.get(entry.id)
            if failure is not None:
                raise failure

        # Decided entries were acknowledged with their decisions; the rest (failed,
        # malformed, past their deliveries) are the consumer's to retry or dead-letter.
        rest = [e for e in entries if e.id not in acknowledged]
        report = self.consumer.process(rest, settled)
        for letter in report.dead:
            self.metrics.dead_lettered.labels(cause=letter.cause).inc()
            if isinstance(letter.exc, BadEntry):
                self.metrics.bad_proposals.labels(field=letter.exc.field).inc()
        self._next_heat = time.monotonic() + self.ctx.settings.heat_publish_seconds

    def close(self) -> None:
        """Decide what was read ahead before stopping (the loop ends on SIGTERM, maybe
        in a write's retries, or on an error); closing, the step reads nothing more. When
        that write fails (a stopping gate retries nothing), a warning names the entries:
        those its script did not acknowledge stay pending on this consumer until a replica
        takes them over, after ``stream_claim_idle_ms``."""
        self._closing = True
        ahead = self._ahead
        if ahead is None or not ahead.entries:
            return
        entries = ahead.entries
        try:
            self.step()
        except Exception as exc:
            log.warning(
                "stopping before the decisions of proposals read ahead were confirmed",
                extra={
                    "entries": len(entries),
                    "first_entry": entries[0].id,
                    "last_entry": entries[-1].id,
                    "taken_over_after_ms": self.consumer.config.claim_idle_ms,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )

    def _read_ahead(self) -> ReadAhead[ViewQuery] | None:
        """The next batch's read (and the book), sent with this batch's write; none when
        stopping: a stopping gate decides what it read and reads no more."""
        if self._closing or self.ctx.stop.is_set():
            return None
        return self.consumer.read_ahead(self.store.view_query(ahead_of=self.consumer.config))

    def _read_view(self, symbols: set[str], query: ViewQuery | None = None) -> ViewRead:
        read = self.store.read_view(self.ctx.clock(), symbols, query)
        for symbol, bad in read.malformed:
            self.metrics.snapshot_malformed.labels(field=bad.field).inc()
            log.warning(
                "snapshot skipped", extra={"symbol": symbol, "field": bad.field, "error": str(bad)}
            )
        for name, bad in read.inputs_malformed:
            self.metrics.input_malformed.labels(input=name, field=bad.field).inc()
            log.warning("input malformed", extra={"input": name, "error": str(bad)})
        self.metrics.snapshot_ages(read.snapshot_ages)
        return read

    def _publish_heat(self, query: ViewQuery | None = None) -> None:
        view = self._read_view(set(), query).view
        book = {s: p.exposure for s, p in view.positions.items()}
        heat = figures(book, view.equity_usd, self.limits.leverage_cap).heat
        self.store.publish_heat(heat, view.now)
        self.metrics.portfolio_heat.set(heat)
        self._next_heat = time.monotonic() + self.ctx.settings.heat_publish_seconds

    def decide_batch(
        self, entries: list[StreamEntry], read: ViewRead, picked: float
    ) -> tuple[dict[str, Exception], set[str]]:
        """Judge every proposal of the batch on ``read`` and write the decisions once;
        what failed, by entry id (a :class:`BadEntry` is dead-lettered at once, anything
        else retried), and the entries acknowledged with the decisions. An entry past its
        deliveries is left to the consumer."""
        failures: dict[str, Exception] = {}
        proposals: list[tuple[StreamEntry, Proposal]] = []
        for entry in entries:
            if entry.deliveries > self.consumer.config.max_deliveries:
                continue
            try:
                proposals.append((entry, Proposal.parse(entry.fields, read.view.now)))
            except BadEntry as exc:
                failures[entry.id] = exc
        if not proposals:
            return failures, set()
        try:
            verdicts, written = self._write_batch(proposals, read)
        except (RedisUnavailable, Stopping):
            raise
        except Exception as exc:  # the whole batch is retried, entry by entry's count
            failures.update({entry.id: exc for entry, _ in proposals})
            return failures, set()
        seconds = time.perf_counter() - picked
        tally = Tally.of(verdicts)
        self.metrics.record(tally, seconds)
        self.metrics.portfolio_heat.set(verdicts[-1].heat_now)
        decided = [(e.id, p, v) for (e, p), v in zip(proposals, verdicts, strict=True)]
        msg, fields = batch_line(decided, tally, repeated=written.count(False), seconds=seconds)
        log.info(msg, extra=fields)
        return failures, {entry.id for entry, _ in proposals}

    def _write_batch(
        self, proposals: list[tuple[StreamEntry, Proposal]], read: ViewRead
    ) -> tuple[list[Verdict], list[bool]]:
        """The batch's verdicts, and per proposal whether its decision was written now
        (False: decided before, the first decision stands)."""
        ahead = along = self._read_ahead()
        try:
            for _ in range(MAX_CONFLICTS):
                verdicts, decisions, headroom = self._judge([p for _, p in proposals], read)
                heat = (verdicts[-1].heat_now, self.ctx.clock())
                config = self.consumer.config
                ack = (config.stream, config.group, [entry.id for entry, _ in proposals])
                try:
                    return verdicts, self.store.write_decisions(
                        decisions, read, headroom, heat, acknowledge=ack, along=along
                    )
                except Conflict:
                    along = None  # read once: what it read waits for the next step
                    self.metrics.reservation_conflicts.inc()
                    read = self._read_view({p.symbol for _, p in proposals})
        finally:
            self._ahead = ahead
        raise RuntimeError(f"other replicas' grants raced this batch {MAX_CONFLICTS} times")

    def _judge(
        self, proposals: list[Proposal], read: ViewRead
    ) -> tuple[list[Verdict], list[Decision], float]:
        """Verdicts and writes of ``proposals`` in order, each grant's reservation added
        to the book before the next is judged; and the batch's headroom (USD others may
        grant meanwhile, the least over its grants; infinite without grants)."""
        view = read.view
        book = Book(view, self.limits.leverage_cap)
        settings = self.ctx.settings
        ttl = settings.permit_ttl_seconds
        issued = self.ctx.clock()
        headroom = math.inf
        verdicts: list[Verdict] = []
        decisions: list[Decision] = []
        for proposal in proposals:
            verdict = decide(proposal, view, self.limits, book)
            permit = Permit.encode(
                proposal, granted=verdict.permit, reason=verdict.reason, heat=verdict.heat,
                conc=verdict.conc, corr_proxy=verdict.corr_proxy, k=verdict.k,
                k_source=verdict.k_source, stress=verdict.stress, issued_ts=issued,
            )  # fmt: skip
            reservation, notional = None, 0.0
            if verdict.permit and verdict.reason != "reducing" and view.equity_usd is not None:
                reservation = Reservation(
                    proposal.proposal_id,
                    proposal.symbol,
                    proposal.signed_qty,
                    proposal.price,
                    issued + ttl,
                )
                held = view.positions.get(proposal.symbol)
                # Others value it at the mark when the symbol is held, else at its price.
                price = max(proposal.price, held.mark_price if held is not None else 0.0)
                notional = abs(proposal.signed_qty) * price
                headroom = min(headroom, headroom_usd(verdict, view.equity_usd, self.limits))
                book.reserve(reservation)
            decisions.append(
                self.store.decision(
                    proposal, permit, ttl, settings.instance,
                    reservation=reservation, notional_usd=notional,
                )
            )  # fmt: skip
            verdicts.append(verdict)
        return verdicts, decisions, headroom
