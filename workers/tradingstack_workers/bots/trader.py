"""One signal through the flow: proposal, permit, budget, leadership, chokepoint, result.

The decisions are :mod:`.flow`'s pure functions; this is the I/O around them. Every
proposal ends in one execution result written exactly once per proposal id, so a
replay after a restart (same bar, same id) never writes a second one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import TypeVar, cast

import redis

from ..runtime.leadership import Leadership, Lease
from ..runtime.loop import WorkerContext
from ..runtime.redis_client import Stopping
from ..runtime.releases import release
from ..wire import BadEntry, Budget, ExecutionResult, Permit, Proposal, Side
from .execution import Execution, OrderIntent
from .flow import (
    FLIP_EXIT,
    NOT_LEADER,
    Order,
    Outcome,
    budget_check,
    error_outcome,
    exec_outcome,
    permit_outcome,
    plan,
    proposal_id,
)
from .marketdata import Bar
from .metrics import BotMetrics
from .settings import BotSettings
from .strategies import Signal

log = logging.getLogger(__name__)

T = TypeVar("T")

STREAM_MAXLEN = 100_000
PERMIT_POLL_SECONDS = 0.02
#: How long a proposal id counts as decided: longer than any replay reaches back.
DECIDED_TTL_SECONDS = 7 * 86_400


def _flat(fields: Mapping[str, str]) -> list[str]:
    return [x for kv in fields.items() for x in kv]


class Trader:
    """Acts on signals for the account while this instance leads."""

    def __init__(
        self,
        ctx: WorkerContext[BotSettings],
        exchange: Execution,
        leadership: Leadership,
        metrics: BotMetrics,
    ) -> None:
        self.ctx = ctx
        self.s = ctx.settings
        self.exchange = exchange
        self.leadership = leadership
        self.metrics = metrics

    def act(
        self,
        signal: Signal,
        bar: Bar,
        lease: Lease,
        positions: MutableMapping[str, float],
        *,
        halted: bool,
    ) -> Outcome | None:
        """Run ``signal`` through the flow; the last outcome written, or None (nothing to do).

        A flip runs as two proposals: its exit first, then, only once the exit filled,
        the entry, judged by the gate and the budget on its own.
        """
        entry_qty = self.s.order_qty_usd / bar.close
        planned = plan(signal, positions.get(signal.symbol, 0.0), entry_qty, halted=halted)
        if planned is None:
            return None
        if isinstance(planned, Outcome):
            side: Side = "BUY" if signal.side == "BUY" else "SELL"
            pid = proposal_id(self.s.account, self.s.bot_name, signal.symbol, signal.ts, side)
            if self._decided(pid):
                return None
            self._record(pid, signal.symbol, planned, lease)
            return planned
        outcome: Outcome | None = None
        flip = len(planned) == 2
        for order in planned:
            leg = FLIP_EXIT if flip and order.kind == "exit" else ""
            outcome = self._leg(signal, bar, order, leg=leg, lease=lease, positions=positions)
            if outcome is not None and outcome.decision != "EXECUTE":
                break  # a flip's entry only after its exit filled
        return outcome

    def _leg(
        self,
        signal: Signal,
        bar: Bar,
        order: Order,
        *,
        leg: str,
        lease: Lease,
        positions: MutableMapping[str, float],
    ) -> Outcome | None:
        """One order of a signal as one proposal; None when a replay finds it decided."""
        pid = proposal_id(
            self.s.account, self.s.bot_name, signal.symbol, signal.ts, order.side, leg=leg
        )
        if self._decided(pid):
            # A replayed bar (restart, takeover): it was acted on, against the position
            # of its time; acting again against today's position would be a new order.
            log.debug("already decided", extra={"proposal_id": pid})
            return None
        proposal = Proposal(
            proposal_id=pid,
            bot=self.s.bot_name,
            strategy=self.s.strategy,
            symbol=signal.symbol,
            side=order.side,
            qty=order.qty,
            price=bar.close,
            notional_usd=order.qty * bar.close,
            ts=self.ctx.clock(),
        )
        try:
            outcome = self._execute(order, proposal, lease, positions)
        except Stopping:
            raise
        except Exception as exc:
            log.exception("proposal failed", extra={"proposal_id": pid})
            outcome = error_outcome(exc)
            self.metrics.errors.labels(type=type(exc).__name__).inc()
            if order.kind == "entry":
                self._release(pid)
        self._record(pid, signal.symbol, outcome, lease)
        return outcome

    def _execute(
        self,
        order: Order,
        proposal: Proposal,
        lease: Lease,
        positions: MutableMapping[str, float],
    ) -> Outcome:
        keys = self.ctx.keys
        stream = keys.proposal_stream
        self.ctx.once.apply(
            f"bots:proposal:{proposal.proposal_id}",
            [["XADD", stream, "MAXLEN", "~", STREAM_MAXLEN, "*", *_flat(proposal.to_fields())]],
            keys=[stream],
        )
        if order.kind == "entry":
            denied = permit_outcome(self._wait_permit(proposal))
            if denied is not None:
                return denied
            check = budget_check(self._budget(proposal.symbol), proposal.notional_usd)
            if check.violation:
                self.metrics.budget_violations.inc()
            if check.outcome is not None:
                self._release(proposal.proposal_id)
                return check.outcome
        if not self.leadership.is_leader(time.monotonic()):
            # The reservation stays: the leader that replays this bar may still use the permit.
            return NOT_LEADER
        intent = OrderIntent.from_proposal(self.s.account, proposal)
        result = self.exchange.submit(
            intent,
            lease.epoch,
            proposal.price,
            self.ctx.clock(),
            reservation=proposal.proposal_id if order.kind == "entry" else None,
            deadline=lease.deadline,
        )
        if result.status == "filled" and result.fill is not None:
            positions[proposal.symbol] = result.fill.position_after
            self.metrics.orders.labels(strategy=self.s.strategy, side=proposal.side).inc()
        elif result.status == "duplicate":
            positions.clear()
            positions.update(self.exchange.state().positions)
        return exec_outcome(result)

    def _wait_permit(self, proposal: Proposal) -> Permit | None:
        """Poll the permit hash until it appears or ``permit_wait_seconds`` pass."""
        key = self.ctx.keys.permit(proposal.proposal_id)
        deadline = time.monotonic() + self.s.permit_wait_seconds
        while True:
            # A permit that breaks its contract, or answers another trade, raises: the
            # proposal ends in ERROR (BadEntry), never in a trade the gate did not grant.
            permit = self._read(
                "permit", key, lambda f, now: Permit.parse(f, now).answering(proposal)
            )
            if permit is not None:
                return permit
            if time.monotonic() >= deadline or self.ctx.stop.is_set():
                return None
            self.ctx.heartbeat.beat()
            time.sleep(PERMIT_POLL_SECONDS)

    def _release(self, pid: str) -> None:
        """Give up a permit's reservation (the entry will not be submitted), counted
        where the gates read it (:mod:`..runtime.releases`)."""
        release(self.ctx.redis, self.ctx.retry, self.ctx.keys, pid)

    def _decided(self, pid: str) -> bool:
        key = self.ctx.keys.decided(self.s.account, pid)
        return bool(self.ctx.retry.run(lambda: self.ctx.redis.exists(key), f"read {key}"))

    def _budget(self, symbol: str) -> Budget | None:
        """The governor's budget; None when absent or malformed (counted: fail-open)."""
        key = self.ctx.keys.budget(symbol)
        try:
            return self._read("budget", key, lambda f, now: Budget.parse(f, now).of(symbol))
        except BadEntry:
            return None

    def _read(
        self, name: str, key: str, parse: Callable[[Mapping[str, str], float], T]
    ) -> T | None:
        """The hash at ``key`` parsed at the bot's clock; None when absent. One that breaks
        its contract (or is no hash at all) is counted, logged and raised as BadEntry."""
        try:
            try:
                fields = self.ctx.retry.run(lambda: self.ctx.redis.hgetall(key), f"read {key}")
            except redis.ResponseError as exc:
                if "WRONGTYPE" not in str(exc):
                    raise
                raise BadEntry(
                    "type", "not a hash (something else is stored under the key)"
                ) from None
            if not fields:
                return None
            return parse(cast(dict[str, str], fields), self.ctx.clock())
        except BadEntry as exc:
            self.metrics.malformed.labels(input=name, field=exc.field).inc()
            log.warning("malformed input", extra={"input": name, "key": key, "error": str(exc)})
            raise

    def _record(self, pid: str, symbol: str, outcome: Outcome, lease: Lease) -> None:
        result = ExecutionResult(
            outcome.decision,
            outcome.reason,
            symbol,
            self.ctx.clock(),
            self.s.bot_name,
            self.s.strategy,
            pid,
        )
        stream = self.ctx.keys.result_stream
        decided = self.ctx.keys.decided(self.s.account, pid)
        commands: list[list[str | int | float]] = [
            ["XADD", stream, "MAXLEN", "~", STREAM_MAXLEN, "*", *_flat(result.to_fields())]
        ]
        op = f"bots:result:{pid}"
        if outcome == NOT_LEADER:
            # A fenced-off instance's "not_leader" must not stand in for the result the
            # current leader writes for the same proposal id, nor mark it decided.
            op += f":epoch{lease.epoch}"
        else:
            commands.append(["SET", decided, outcome.decision, "EX", DECIDED_TTL_SECONDS])
        self.ctx.once.apply(op, commands, keys=[stream, decided])
        self.metrics.decisions.labels(decision=outcome.decision).inc()
        log.info(
            "decision",
            extra={
                "proposal_id": pid,
                "symbol": symbol,
                "decision": outcome.decision,
                "reason": outcome.reason,
                "epoch": lease.epoch,
            },
        )
