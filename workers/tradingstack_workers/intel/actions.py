"""Gate -> diagnosis -> action: seed 003's action-mapping guide as data.

The report attaches the entry of each dominant gate. The seven gates of the guide
come first, then the reasons our own gate (P2.6) and the bots' guards give.
``{prefix}`` in a diagnosis is the deployment's key prefix; ``<SYMBOL>`` is left
for the reader.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    meaning: str
    diagnosis: tuple[str, ...]
    actions: tuple[str, ...]

    def as_dict(self, prefix: str) -> dict[str, object]:
        return {
            "meaning": self.meaning,
            "diagnosis": [d.format(prefix=prefix) for d in self.diagnosis],
            "actions": list(self.actions),
        }


ACTIONS: dict[str, Action] = {
    "p33_permit_denied": Action(
        "P3.3 universe source refused the symbol",
        ("redis-cli HGETALL {prefix}:p33:symbol:<SYMBOL>:permit",),
        (
            "restart the publisher if the permit is stale",
            "adjust leverage/risk limits",
            "remove a hold",
        ),
    ),
    "no_position": Action(
        "an exit or reduce found no position",
        ("check the position exists and was not just closed (race)",),
        ("deduplicate exits", "reconcile positions more often"),
    ),
    "not_in_allowlist": Action(
        "symbol outside the universe whitelist",
        ("compare the allowlist size with the symbols proposed",),
        ("expand the allowlist (spec.symbols)", "fix the strategy's symbol filter"),
    ),
    "leverage_ratio_exceeded": Action(
        "position-level leverage above its limit",
        ("compare current leverage with the limit",),
        ("raise the limit", "enable adaptive leverage"),
    ),
    "insufficient_confidence": Action(
        "signal confidence below the threshold",
        ("check confidence scores against the threshold",),
        ("lower the threshold", "retrain the model"),
    ),
    "action_hold": Action(
        "trading paused by a control flag",
        ("redis-cli GET {prefix}:control:halted", "kubectl get ts (HALTED column)"),
        ("remove the hold (spec.halted: false)",),
    ),
    "reconciliation_mismatch": Action(
        "ledger and exchange positions disagree",
        ("check reconciliation status and errors in the bot's logs",),
        ("restart reconciliation (the bot pod)",),
    ),
    "heat_limit": Action(
        "P2.6 gate: the trade would lift portfolio heat above maxHeat",
        ("redis-cli HGETALL {prefix}:portfolio:heat", "tradingstack intel report b"),
        ("reduce exposure", "raise spec.workers.gate.maxHeat if the limit is too tight"),
    ),
    "stress_limit": Action(
        "P2.6 gate: heat, concentration and correlation stress above maxStress",
        ("redis-cli HGETALL {prefix}:portfolio:cluster_state",),
        ("diversify (clustered positions)", "review the stress weights and maxStress"),
    ),
    "portfolio_stale": Action(
        "P2.6 gate: the portfolio state is older than its limit",
        ("redis-cli HGETALL {prefix}:state:portfolio",),
        ("check the bot that writes the portfolio state is running (leader)",),
    ),
    "equity_unknown": Action(
        "P2.6 gate: no equity in the portfolio state",
        ("redis-cli HGET {prefix}:state:portfolio equity_usd",),
        ("check the ledger writes equity_usd",),
    ),
    "proposal_expired": Action(
        "P2.6 gate: proposals arrive older than maxProposalAge",
        ("tradingstack intel report e", "check the gate's lag (p26_* metrics)"),
        ("scale the gate (spec.workers.gate.replicas)", "check clocks (NTP)"),
    ),
    "p26_permit_denied": Action(
        "the gate denied the permit (any reason)",
        ("redis-cli XREVRANGE {prefix}:stream:portfolio.gate + - COUNT 20",),
        ("look up the gate's own reason in its audit stream",),
    ),
    "halted": Action(
        "the kill switch is engaged: entries are refused, exits still run",
        (
            "tradingstack status NAME",
            "redis-cli GET {prefix}:control:halted",
            "kubectl get ts (HALTED column)",
        ),
        ("tradingstack resume NAME, or spec.halted: false, once the cause is dealt with",),
    ),
    "insufficient_funds": Action(
        "the paper account's cash or margin does not cover the entry",
        ("tradingstack status NAME (equity, positions)",),
        ("lower spec.bots[].params order size", "close positions", "fund the account"),
    ),
    "permit_expired": Action(
        "the gate's permit expired before the order reached the chokepoint",
        ("tradingstack intel report e", "check the bot's cycle and the gate's lag"),
        ("raise spec.workers.gate.permitTtlSeconds", "scale the gate"),
    ),
    "budget_exceeded": Action(
        "P2.8 governor: the symbol's budget is used up",
        ("redis-cli HGETALL {prefix}:portfolio:budget:<SYMBOL>",),
        ("wait for the budget to recover", "review the governor's base risk"),
    ),
}

UNMAPPED = Action(
    "no entry in the action-mapping guide",
    ("redis-cli XREVRANGE {prefix}:stream:apply.result + - COUNT 20",),
    ("read the writer's logs for this reason", "add it to intel/actions.py"),
)


def action_for(reason: str) -> Action:
    return ACTIONS.get(reason, UNMAPPED)
