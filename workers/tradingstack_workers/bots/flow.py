"""The bot's per-signal decisions as pure functions: no Redis, no clock, no metrics.

A signal becomes at most two orders: an **entry** opens a position (it adds risk),
an **exit** closes one (it lowers risk). A signal against the held position (a flip,
long to short) is both, in that order: the exit of the whole position, then an entry
of the usual size judged on its own. Sent as one order of ``|held| + entry``, a flip
was an entry as a whole, so in enforce mode the budget (or the gate) refused it and
the old position stayed open (review D13). Entries pass the kill switch, the gate's
permit and the governor's budget; exits pass none of them, by the same rule as the
gate (``reducing``) and the chokepoint: lowering risk is never blocked by a risk
control. Every proposal ends in exactly one :class:`Outcome` (EXECUTE, SKIP, BLOCKED
or ERROR, always with a reason), never UNKNOWN.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from ..runtime import killswitch
from ..wire import Budget, Permit, Side
from .execution import ExecResult
from .execution.chokepoint import FLAT
from .strategies import Signal

Kind = Literal["entry", "exit"]
Decision = Literal["EXECUTE", "SKIP", "BLOCKED", "ERROR"]


@dataclass(frozen=True)
class Outcome:
    """What became of one proposal, as the result stream records it."""

    decision: Decision
    reason: str


@dataclass(frozen=True)
class Order:
    """The order a signal asks for: ``qty`` in units, ``side`` BUY or SELL."""

    kind: Kind
    side: Side
    qty: float


HALTED = Outcome("SKIP", "halted")
PERMIT_TIMEOUT = Outcome("SKIP", "permit_timeout")
NOT_LEADER = Outcome("SKIP", "not_leader")
BUDGET_EXCEEDED = Outcome("BLOCKED", "budget_exceeded")
ORDER_UNKNOWN = Outcome("ERROR", "order_outcome_unknown")


def proposal_id(
    account: str, bot: str, symbol: str, bar_ts: float, side: Side, *, leg: str = ""
) -> str:
    """A pure function of the bar that caused it: a replay after a restart, or a promoted
    standby acting on the same bar, proposes under the same id. ``leg`` tells a flip's
    exit apart from its entry (same bar, same side); a plain order has none."""
    parts = (account, bot, symbol, repr(float(bar_ts)), side, *((leg,) if leg else ()))
    text = "\x1f".join(parts)
    return "pr" + hashlib.sha256(text.encode()).hexdigest()[:32]


#: The ``leg`` of a flip's exit in its proposal id.
FLIP_EXIT = "flip-exit"


def plan(
    signal: Signal, position: float, entry_qty: float, *, halted: bool
) -> tuple[Order, ...] | Outcome | None:
    """The orders ``signal`` asks for given the signed ``position``, in the order they
    run; None when there is nothing to do (already there); :data:`HALTED` for an entry
    while halted.

    A signal against the position flips it: the exit of the whole position, then an
    entry of ``entry_qty``; while halted only the exit (closing still runs).
    """
    held = 0.0 if abs(position) <= FLAT else position
    if signal.side == "EXIT":
        if held == 0.0:
            return None
        return (Order("exit", "SELL" if held > 0 else "BUY", abs(held)),)
    side: Side = signal.side
    wanted = 1.0 if side == "BUY" else -1.0
    if held * wanted > 0:
        return None
    if held != 0.0:
        close = Order("exit", side, abs(held))
        return (close,) if halted else (close, Order("entry", side, entry_qty))
    return HALTED if halted else (Order("entry", side, entry_qty),)


def is_halted(control: str | None) -> bool:
    """The kill switch: the Redis control key set to "1" (``runtime.killswitch``)."""
    return control == killswitch.HALTED


def permit_outcome(permit: Permit | None) -> Outcome | None:
    """None when the gate granted the trade; otherwise why it may not proceed."""
    if permit is None:
        return PERMIT_TIMEOUT
    if not permit.granted:
        return Outcome("BLOCKED", permit.reason)
    return None


@dataclass(frozen=True)
class BudgetCheck:
    """The governor's verdict on one entry; ``violation`` in shadow mode only."""

    outcome: Outcome | None
    violation: bool = False


def budget_check(budget: Budget | None, notional_usd: float) -> BudgetCheck:
    """Enforce: over budget is BLOCKED. Shadow: proceed, recorded as a violation.

    No budget (the governor is down, or it failed open on stale data, or its hash broke
    the contract) lets the entry through: the governor's contract is fail-open, the gate
    still decides.
    """
    if budget is None or notional_usd <= budget.budget_usd:
        return BudgetCheck(None)
    if budget.mode == "shadow":
        return BudgetCheck(None, violation=True)
    return BudgetCheck(BUDGET_EXCEEDED)


def exec_outcome(result: ExecResult) -> Outcome:
    """The chokepoint's answer as a decision."""
    if result.status == "filled":
        return Outcome("EXECUTE", result.reason or "filled")
    if result.status == "unknown":  # in flight on a live exchange; the poller resolves it
        return ORDER_UNKNOWN
    if result.status == "duplicate":
        return Outcome("SKIP", "duplicate_order")
    if result.status == "stale_epoch":
        return NOT_LEADER
    if result.reason == "halted":  # the kill switch set between our check and the chokepoint
        return HALTED
    return Outcome("BLOCKED", result.reason or "rejected")


def error_outcome(exc: BaseException) -> Outcome:
    """Any failure inside the flow: ERROR named by the exception type."""
    return Outcome("ERROR", type(exc).__name__)
