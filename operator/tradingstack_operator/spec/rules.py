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

from tradingstack_workers.runtime.weights import SUM_HIGH, SUM_LOW, sums_to_one

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


#: Why a live bot is refused without an exchange it can trade on.
LIVE_NEEDS_EXCHANGE = (
    "mode live needs an exchange with credentialsSecret: live orders go to a real exchange"
    " (set spec.bots[].exchange, or use mode: paper)"
)
#: Why a live stack without bots is refused.
LIVE_NEEDS_BOTS = "live needs at least one bot with an exchange; use mode: paper"


def _live_needs_exchange(spec: TradingStackSpec) -> SpecProblem | None:
    if spec.mode == "paper":
        return None
    if not spec.bots:
        return SpecProblem("spec.mode", LIVE_NEEDS_BOTS)
    for bot in spec.bots:
        if bot.exchange is None or bot.exchange.credentials_secret is None:
            return SpecProblem(f"spec.bots[name={bot.name}].exchange", LIVE_NEEDS_EXCHANGE)
    return None


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
    quorum, replicas = redis.sentinel.quorum, redis.replicas
    if replicas < 2 * quorum and quorum < replicas:
        return None
    low, high = replicas // 2 + 1, replicas - 1
    allowed = str(low) if low == high else f"{low} to {high}"
    return SpecProblem(
        "spec.redis.sentinel.quorum",
        f"{quorum} is not allowed with spec.redis.replicas {replicas}: use {allowed}"
        " (a majority of the sentinels, and fewer than all of them)",
    )


def _redis_memory_limit(spec: TradingStackSpec) -> SpecProblem | None:
    if "memory" in spec.redis.resources.limits:
        return None
    return SpecProblem(
        "spec.redis.resources.limits.memory", "is required: maxmemory is derived from it"
    )


def _redis_requests_are_limits(spec: TradingStackSpec) -> SpecProblem | None:
    resources = spec.redis.resources
    for name, amount in resources.requests.items():
        if resources.limits.get(name) != amount:
            return SpecProblem(
                "spec.redis.resources.requests",
                "must equal spec.redis.resources.limits: Redis runs with Guaranteed QoS",
            )
    return None


def _tls_needs_secret(spec: TradingStackSpec) -> SpecProblem | None:
    tls = spec.redis.tls
    if not tls.enabled or tls.secret_name is not None:
        return None
    return SpecProblem(
        "spec.redis.tls.secretName",
        "is required with spec.redis.tls.enabled: a kubernetes.io/tls Secret with ca.crt",
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


_GATE_WEIGHTS = "spec.workers.gate.stressWeights"
_GATE_SUM = f"{_GATE_WEIGHTS}: heat + conc + k must be 1 (the stress stays in [0, 1])"
_GATE_ORDER = (
    f"{_GATE_WEIGHTS}: heat must be at least k (adding to a hedge leg could lower the stress)"
)
_GOVERNOR_WEIGHTS = "spec.workers.governor.stressWeights"
_GOVERNOR_SUM = (
    f"{_GOVERNOR_WEIGHTS}: heat + cluster + vol must be 1 (market stress stays in [0, 1])"
)


def _gate_weights_sum(spec: TradingStackSpec) -> SpecProblem | None:
    w = spec.workers.gate.stress_weights
    return None if sums_to_one(w.heat, w.conc, w.k) else SpecProblem(*_GATE_SUM.split(": ", 1))


def _gate_heat_over_k(spec: TradingStackSpec) -> SpecProblem | None:
    w = spec.workers.gate.stress_weights
    return None if w.heat >= w.k else SpecProblem(*_GATE_ORDER.split(": ", 1))


def _governor_weights_sum(spec: TradingStackSpec) -> SpecProblem | None:
    w = spec.workers.governor.stress_weights
    if sums_to_one(w.heat, w.cluster, w.vol):
        return None
    return SpecProblem(*_GOVERNOR_SUM.split(": ", 1))


def _sums_to_one(*fields: str) -> str:
    """CEL of :func:`sums_to_one` over ``fields`` (the same bounds, the same sum order)."""
    total = " + ".join(fields)
    return f"{total} >= {SUM_LOW!r} && {total} <= {SUM_HIGH!r}"


_GW = "self.workers.gate.stressWeights"
_VW = "self.workers.governor.stressWeights"
_BAD_BOTS = "self.bots.filter(b, !self.bots.exists_one(c, c.name == b.name))"
_STRAY_BOT = "self.bots.filter(b, !b.symbols.all(s, s in self.symbols))[0]"
_THRESHOLDS = "self.workers.intel.alertThresholds"
_REDIS_RES = "self.redis.resources"
_SAME_LIMIT = (
    f"has({_REDIS_RES}.limits) && k in {_REDIS_RES}.limits"
    f" && {_REDIS_RES}.limits[k] == {_REDIS_RES}.requests[k]"
)
_TRADES_LIVE = "has(b.exchange) && has(b.exchange.credentialsSecret)"


def _message(template: str, *args: str) -> str:
    """A CEL messageExpression: ``template`` with ``%d``/``%s`` filled from ``args``.

    strings.format, not ``string(x)`` concatenation: the API server cannot bound the
    size of a converted value, so every rule built that way exceeds its cost budget.
    """
    return f"'{template}'.format([{', '.join(args)}])"


_QUORUM = "spec.redis.sentinel.quorum: %d is not allowed with spec.redis.replicas %d: use "
_MAJORITY = " (a majority of the sentinels, and fewer than all of them)"
_QUORUM_ONE = _message(
    _QUORUM + "%d" + _MAJORITY,
    "self.redis.sentinel.quorum", "self.redis.replicas", "self.redis.replicas / 2 + 1",
)  # fmt: skip
_QUORUM_RANGE = _message(
    _QUORUM + "%d to %d" + _MAJORITY,
    "self.redis.sentinel.quorum", "self.redis.replicas", "self.redis.replicas / 2 + 1",
    "self.redis.replicas - 1",
)  # fmt: skip

RULES: tuple[Rule, ...] = (
    Rule(
        check=_live_needs_exchange,
        cel=f"self.mode == 'paper' || (size(self.bots) > 0 && self.bots.all(b, {_TRADES_LIVE}))",
        message=f"size(self.bots) == 0 ? 'spec.mode: {LIVE_NEEDS_BOTS}' : "
        + _message(
            f"spec.bots[name=%s].exchange: {LIVE_NEEDS_EXCHANGE}",
            f"self.bots.filter(b, !({_TRADES_LIVE}))[0].name",
        ),
        summary="spec.mode: live needs every bot to have an exchange with credentialsSecret",
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
        # Out of their bounds the schema refuses them already (the model says that alone).
        " || self.redis.sentinel.quorum < 1 || self.redis.replicas > 9"
        " || (self.redis.replicas < 2 * self.redis.sentinel.quorum"
        " && self.redis.sentinel.quorum < self.redis.replicas)",
        message=f"self.redis.replicas / 2 + 1 == self.redis.replicas - 1"
        f" ? {_QUORUM_ONE} : {_QUORUM_RANGE}",
        summary="spec.redis.sentinel.quorum must be a majority of spec.redis.replicas and"
        " less than it",
        field_path=".redis.sentinel.quorum",
    ),
    Rule(
        check=_redis_memory_limit,
        cel="has(self.redis.resources.limits) && 'memory' in self.redis.resources.limits",
        message="'spec.redis.resources.limits.memory: is required: maxmemory is derived from it'",
        summary="spec.redis.resources.limits.memory is required",
        field_path=".redis.resources.limits",
    ),
    Rule(
        check=_redis_requests_are_limits,
        cel=f"!has({_REDIS_RES}.requests) || {_REDIS_RES}.requests.all(k, {_SAME_LIMIT})",
        message="'spec.redis.resources.requests: must equal spec.redis.resources.limits:"
        " Redis runs with Guaranteed QoS'",
        summary="spec.redis.resources.requests must equal its limits",
        field_path=".redis.resources.requests",
    ),
    Rule(
        check=_tls_needs_secret,
        cel="!self.redis.tls.enabled || has(self.redis.tls.secretName)",
        message="'spec.redis.tls.secretName: is required with spec.redis.tls.enabled:"
        " a kubernetes.io/tls Secret with ca.crt'",
        summary="spec.redis.tls.secretName is required with spec.redis.tls.enabled",
        field_path=".redis.tls",
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
    Rule(
        check=_gate_weights_sum,
        cel=_sums_to_one(f"{_GW}.heat", f"{_GW}.conc", f"{_GW}.k"),
        message=f"'{_GATE_SUM}'",
        summary=_GATE_SUM,
        field_path=".workers.gate.stressWeights",
    ),
    Rule(
        check=_gate_heat_over_k,
        cel=f"{_GW}.heat >= {_GW}.k",
        message=f"'{_GATE_ORDER}'",
        summary=_GATE_ORDER,
        field_path=".workers.gate.stressWeights",
    ),
    Rule(
        check=_governor_weights_sum,
        cel=_sums_to_one(f"{_VW}.heat", f"{_VW}.cluster", f"{_VW}.vol"),
        message=f"'{_GOVERNOR_SUM}'",
        summary=_GOVERNOR_SUM,
        field_path=".workers.governor.stressWeights",
    ),
)


@dataclass(frozen=True)
class TransitionRule:
    """A rule over an update: what the StatefulSet behind ``spec.redis`` cannot carry out.

    The API server evaluates ``cel`` only on updates, with ``oldSelf`` the stored spec;
    ``check`` is the same rule in Python, given the old and the new spec.
    """

    check: Callable[[TradingStackSpec, TradingStackSpec], SpecProblem | None]
    cel: str
    message: str
    summary: str
    field_path: str


def _storage_size_fixed(old: TradingStackSpec, new: TradingStackSpec) -> SpecProblem | None:
    if old.redis.storage.size == new.redis.storage.size:
        return None
    return SpecProblem(
        "spec.redis.storage.size",
        "cannot change on a running stack: a StatefulSet's volume claims are fixed;"
        " resize each PersistentVolumeClaim instead",
    )


def _storage_class_fixed(old: TradingStackSpec, new: TradingStackSpec) -> SpecProblem | None:
    if old.redis.storage.storage_class_name == new.redis.storage.storage_class_name:
        return None
    return SpecProblem(
        "spec.redis.storage.storageClassName",
        "cannot change: a StatefulSet's volume claims are fixed",
    )


def _sentinel_fixed(old: TradingStackSpec, new: TradingStackSpec) -> SpecProblem | None:
    if old.redis.sentinel_enabled == new.redis.sentinel_enabled:
        return None
    turn = "on" if new.redis.sentinel_enabled else "off"
    return SpecProblem(
        "spec.redis.sentinel",
        f"cannot turn Sentinel {turn} on a running stack (spec.redis.replicas"
        f" {old.redis.replicas} to {new.redis.replicas}): the pods would elect no master"
        " or two; create a new stack and move the data",
    )


def _tls_fixed(old: TradingStackSpec, new: TradingStackSpec) -> SpecProblem | None:
    if old.redis.tls.enabled == new.redis.tls.enabled:
        return None
    return SpecProblem(
        "spec.redis.tls.enabled",
        "cannot change on a running stack: a rolling restart would leave replicas and"
        " sentinels speaking TLS and plain TCP to each other",
    )


def _sentinel_on(obj: str) -> str:
    return (
        f"(has({obj}.redis.sentinel.enabled) ? {obj}.redis.sentinel.enabled"
        f" : {obj}.redis.replicas >= 3)"
    )


_CLASS = "redis.storage.storageClassName"

TRANSITION_RULES: tuple[TransitionRule, ...] = (
    TransitionRule(
        check=_storage_size_fixed,
        cel="self.redis.storage.size == oldSelf.redis.storage.size",
        message="'spec.redis.storage.size: cannot change on a running stack: a StatefulSet\\'s"
        " volume claims are fixed; resize each PersistentVolumeClaim instead'",
        summary="spec.redis.storage.size cannot change",
        field_path=".redis.storage.size",
    ),
    TransitionRule(
        check=_storage_class_fixed,
        cel=f"has(self.{_CLASS}) == has(oldSelf.{_CLASS})"
        f" && (!has(self.{_CLASS}) || self.{_CLASS} == oldSelf.{_CLASS})",
        message="'spec.redis.storage.storageClassName: cannot change: a StatefulSet\\'s"
        " volume claims are fixed'",
        summary="spec.redis.storage.storageClassName cannot change",
        field_path=".redis.storage",
    ),
    TransitionRule(
        check=_sentinel_fixed,
        cel=f"{_sentinel_on('self')} == {_sentinel_on('oldSelf')}",
        message=_message(
            "spec.redis.sentinel: cannot turn Sentinel %s on a running stack"
            " (spec.redis.replicas %d to %d): the pods would elect no master or two;"
            " create a new stack and move the data",
            f"{_sentinel_on('self')} ? 'on' : 'off'",
            "oldSelf.redis.replicas",
            "self.redis.replicas",
        ),
        summary="spec.redis: Sentinel cannot be turned on or off on a running stack",
        field_path=".redis.sentinel",
    ),
    TransitionRule(
        check=_tls_fixed,
        cel="self.redis.tls.enabled == oldSelf.redis.tls.enabled",
        message="'spec.redis.tls.enabled: cannot change on a running stack: a rolling restart"
        " would leave replicas and sentinels speaking TLS and plain TCP to each other'",
        summary="spec.redis.tls.enabled cannot change on a running stack",
        field_path=".redis.tls.enabled",
    ),
)


def transition_problems(old: TradingStackSpec, new: TradingStackSpec) -> list[SpecProblem]:
    """Every transition rule ``new`` breaks against ``old`` (empty: the update may go on)."""
    return [p for rule in TRANSITION_RULES if (p := rule.check(old, new)) is not None]
