"""Cross-field rules, each written twice side by side: in Python and in CEL.

The model's validator runs ``check``; the CRD carries ``cel`` and ``message`` as
``x-kubernetes-validations`` on ``spec``, so the API server refuses the same specs before
they are stored. ``message`` is a CEL messageExpression that must build exactly the text
``check`` returns; the corpus tests hold the two to that. Rules may assume the CRD
defaults are applied (the API server defaults before it validates).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import SpecProblem

if TYPE_CHECKING:
    from .stack import TradingStackSpec


@dataclass(frozen=True)
class Rule:
    """One cross-field rule over ``spec``."""

    check: Callable[[TradingStackSpec], SpecProblem | None]
    cel: str  # true when the spec is valid; ``self`` is spec
    message: str  # CEL messageExpression
    summary: str  # static message, used if the messageExpression cannot be evaluated
    field_path: str  # relative to spec, for the API server's error


#: What ``spec.mode: live`` is refused with until a live exchange adapter exists.
LIVE_REFUSED = (
    "live is not available yet: this version trades on the paper exchange only"
    " (a live exchange adapter through ccxt is planned); use mode: paper"
)


def _paper_only(spec: TradingStackSpec) -> SpecProblem | None:
    if spec.mode == "paper":
        return None
    return SpecProblem("spec.mode", LIVE_REFUSED)


def _redis_replicas(spec: TradingStackSpec) -> SpecProblem | None:
    n = spec.redis.replicas
    if n == 1 or n >= 3:
        return None
    return SpecProblem(
        "spec.redis.replicas",
        f"{n} is not allowed: use 1 (one Redis, no Sentinel) or at least 3 (Sentinel)",
    )


def _sentinel_needs_replicas(spec: TradingStackSpec) -> SpecProblem | None:
    if spec.redis.replicas >= 3 or spec.redis.sentinel.enabled is not True:
        return None
    return SpecProblem(
        "spec.redis.sentinel.enabled",
        f"Sentinel needs spec.redis.replicas of at least 3 (got {spec.redis.replicas})",
    )


def _quorum(spec: TradingStackSpec) -> SpecProblem | None:
    redis = spec.redis
    if redis.replicas < 3 or not redis.sentinel_enabled:
        return None
    if redis.sentinel.quorum <= redis.replicas:
        return None
    return SpecProblem(
        "spec.redis.sentinel.quorum",
        f"{redis.sentinel.quorum} is more than spec.redis.replicas ({redis.replicas})",
    )


def _bot_names_unique(spec: TradingStackSpec) -> SpecProblem | None:
    names = [bot.name for bot in spec.bots]
    repeated = [name for name in names if names.count(name) > 1]
    if not repeated:
        return None
    return SpecProblem("spec.bots", f"name {repeated[0]} is used more than once")


def _bot_symbols_listed(spec: TradingStackSpec) -> SpecProblem | None:
    for bot in spec.bots:
        unlisted = [s for s in bot.symbols if s not in spec.symbols]
        if unlisted:
            return SpecProblem(
                f"spec.bots[name={bot.name}].symbols", f"{unlisted[0]} is not in spec.symbols"
            )
    return None


def _gate_sees_fresh_clusters(spec: TradingStackSpec) -> SpecProblem | None:
    clusters, gate = spec.workers.clusters, spec.workers.gate
    if not (clusters.enabled and gate.enabled):
        return None
    if gate.cluster_stale_seconds > clusters.interval_seconds:
        return None
    return SpecProblem(
        "spec.workers.gate.clusterStaleSeconds",
        f"{gate.cluster_stale_seconds} is not more than spec.workers.clusters.intervalSeconds"
        f" ({clusters.interval_seconds}): the gate would treat fresh cluster state as stale",
    )


def _budgets_outlive_interval(spec: TradingStackSpec) -> SpecProblem | None:
    governor = spec.workers.governor
    if governor.budget_ttl_seconds > governor.interval_seconds:
        return None
    return SpecProblem(
        "spec.workers.governor.budgetTtlSeconds",
        f"{governor.budget_ttl_seconds} is not more than spec.workers.governor.intervalSeconds"
        f" ({governor.interval_seconds}): budgets would expire between runs",
    )


def _alert_thresholds_rise(spec: TradingStackSpec) -> SpecProblem | None:
    t = spec.workers.intel.alert_thresholds
    if t.medium < t.high < t.critical:
        return None
    return SpecProblem(
        "spec.workers.intel.alertThresholds",
        f"medium < high < critical must hold (got {t.medium}, {t.high}, {t.critical})",
    )


_BAD_BOTS = "self.bots.filter(b, !self.bots.exists_one(c, c.name == b.name))"
_STRAY_BOT = "self.bots.filter(b, !b.symbols.all(s, s in self.symbols))[0]"
_THRESHOLDS = "self.workers.intel.alertThresholds"


def _message(template: str, *args: str) -> str:
    """A CEL messageExpression: ``template`` with ``%d``/``%s`` filled from ``args``.

    strings.format, not ``string(x)`` concatenation: the API server cannot bound the
    size of a converted value, so every rule built that way exceeds its cost budget.
    """
    return f"'{template}'.format([{', '.join(args)}])"


RULES: tuple[Rule, ...] = (
    Rule(
        check=_paper_only,
        cel="self.mode == 'paper'",
        message=f"'spec.mode: {LIVE_REFUSED}'",
        summary="spec.mode: only paper is available until a live exchange adapter exists",
        field_path=".mode",
    ),
    Rule(
        check=_redis_replicas,
        cel="self.redis.replicas == 1 || self.redis.replicas >= 3",
        message=_message(
            "spec.redis.replicas: %d is not allowed: use 1 (one Redis, no Sentinel) or at least"
            " 3 (Sentinel)",
            "self.redis.replicas",
        ),
        summary="spec.redis.replicas must be 1 or at least 3",
        field_path=".redis.replicas",
    ),
    Rule(
        check=_sentinel_needs_replicas,
        cel="self.redis.replicas >= 3 || !has(self.redis.sentinel.enabled)"
        " || !self.redis.sentinel.enabled",
        message=_message(
            "spec.redis.sentinel.enabled: Sentinel needs spec.redis.replicas of at least 3"
            " (got %d)",
            "self.redis.replicas",
        ),
        summary="spec.redis.sentinel.enabled needs spec.redis.replicas of at least 3",
        field_path=".redis.sentinel.enabled",
    ),
    Rule(
        check=_quorum,
        cel="self.redis.replicas < 3"
        " || (has(self.redis.sentinel.enabled) && !self.redis.sentinel.enabled)"
        " || self.redis.sentinel.quorum <= self.redis.replicas",
        message=_message(
            "spec.redis.sentinel.quorum: %d is more than spec.redis.replicas (%d)",
            "self.redis.sentinel.quorum",
            "self.redis.replicas",
        ),
        summary="spec.redis.sentinel.quorum must not exceed spec.redis.replicas",
        field_path=".redis.sentinel.quorum",
    ),
    Rule(
        check=_bot_names_unique,
        cel="self.bots.all(b, self.bots.exists_one(c, c.name == b.name))",
        message=_message("spec.bots: name %s is used more than once", f"{_BAD_BOTS}[0].name"),
        summary="spec.bots: names must be unique",
        field_path=".bots",
    ),
    Rule(
        check=_bot_symbols_listed,
        cel="self.bots.all(b, b.symbols.all(s, s in self.symbols))",
        message=_message(
            "spec.bots[name=%s].symbols: %s is not in spec.symbols",
            f"{_STRAY_BOT}.name",
            f"{_STRAY_BOT}.symbols.filter(s, !(s in self.symbols))[0]",
        ),
        summary="spec.bots: every bot's symbols must be listed in spec.symbols",
        field_path=".bots",
    ),
    Rule(
        check=_gate_sees_fresh_clusters,
        cel="!self.workers.clusters.enabled || !self.workers.gate.enabled"
        " || self.workers.gate.clusterStaleSeconds > self.workers.clusters.intervalSeconds",
        message=_message(
            "spec.workers.gate.clusterStaleSeconds: %d is not more than"
            " spec.workers.clusters.intervalSeconds (%d): the gate would treat fresh cluster"
            " state as stale",
            "self.workers.gate.clusterStaleSeconds",
            "self.workers.clusters.intervalSeconds",
        ),
        summary="spec.workers.gate.clusterStaleSeconds must exceed"
        " spec.workers.clusters.intervalSeconds",
        field_path=".workers.gate.clusterStaleSeconds",
    ),
    Rule(
        check=_budgets_outlive_interval,
        cel="self.workers.governor.budgetTtlSeconds > self.workers.governor.intervalSeconds",
        message=_message(
            "spec.workers.governor.budgetTtlSeconds: %d is not more than"
            " spec.workers.governor.intervalSeconds (%d): budgets would expire between runs",
            "self.workers.governor.budgetTtlSeconds",
            "self.workers.governor.intervalSeconds",
        ),
        summary="spec.workers.governor.budgetTtlSeconds must exceed its intervalSeconds",
        field_path=".workers.governor.budgetTtlSeconds",
    ),
    Rule(
        check=_alert_thresholds_rise,
        cel=f"{_THRESHOLDS}.medium < {_THRESHOLDS}.high"
        f" && {_THRESHOLDS}.high < {_THRESHOLDS}.critical",
        message=_message(
            "spec.workers.intel.alertThresholds: medium < high < critical must hold"
            " (got %d, %d, %d)",
            f"{_THRESHOLDS}.medium",
            f"{_THRESHOLDS}.high",
            f"{_THRESHOLDS}.critical",
        ),
        summary="spec.workers.intel.alertThresholds must rise from medium to high to critical",
        field_path=".workers.intel.alertThresholds",
    ),
)
