"""The TradingStack status, computed without I/O from what the reconciler observed.

Conditions follow metav1.Condition (type, status, reason, message,
lastTransitionTime, observedGeneration) and are always written as a whole list;
a condition keeps its lastTransitionTime while its status does not change.
``phase`` is for display only; automation reads the conditions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..render.pods import BOT_LABEL
from ..resources import COMPONENT_LABEL
from . import rollover as roll
from .condition import Condition
from .killswitch import KillSwitch, halted_condition


@dataclass(frozen=True)
class Component:
    """One workload child as observed: a StatefulSet or a Deployment."""

    name: str
    desired: int
    ready: int
    updated: int
    rolled_out: bool  # the controller has observed the latest generation
    #: Pods that exist (status.replicas): above ``desired`` while old pods still run.
    current: int | None = None

    @property
    def available(self) -> bool:
        return self.ready >= self.desired

    @property
    def progressing(self) -> bool:
        """The latest generation is not yet the only one running (as ``kubectl rollout
        status`` judges a Deployment: observed, every pod updated, no old pod left)."""
        surplus = self.current is not None and self.current > self.desired
        return not self.rolled_out or self.updated < self.desired or surplus


def component(child: Mapping[str, Any]) -> Component:
    """A Deployment's or StatefulSet's replicas and rollout, from its observed object."""
    spec = child.get("spec") or {}
    status = child.get("status") or {}
    labels = child["metadata"].get("labels") or {}
    generation = child["metadata"].get("generation")
    return Component(
        name=component_name(labels, child["metadata"]["name"]),
        desired=int(spec.get("replicas", 1)),
        ready=int(status.get("readyReplicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
        rolled_out=generation is None or status.get("observedGeneration") == generation,
        current=int(status["replicas"]) if "replicas" in status else None,
    )


def component_name(labels: Mapping[str, str], default: str) -> str:
    """The status key of a workload: its component, and ``bot-<name>`` for each bot."""
    bot = labels.get(BOT_LABEL)
    if bot:
        return f"bot-{bot}"
    return labels.get(COMPONENT_LABEL, default)


@dataclass(frozen=True)
class Monitoring:
    """The stack's monitors and rules: rendered at all, and which kinds the server lacks."""

    enabled: bool = True
    missing: tuple[str, ...] = ()  # e.g. "servicemonitors.monitoring.coreos.com"


@dataclass(frozen=True)
class Observation:
    generation: int
    halted: bool
    paused: bool
    spec_error: str | None = None
    apply_error: str | None = None
    redis: Component | None = None
    redis_master: str | None = None
    #: What disagrees about the master (sentinels or pods), from the Redis probe.
    redis_split_brain: str | None = None
    #: Why the Redis probe could not ask the pods at all (e.g. an unusable password).
    redis_probe_problem: str | None = None
    sentinel: bool = True
    master_probed: bool = True  # False: the operator does not ask Sentinel (configured off)
    workers: Sequence[Component] = ()
    monitoring: Monitoring = Monitoring()
    #: The kill switch as written and read back this run (None: not attempted).
    kill_switch: KillSwitch | None = None
    #: The key the kill switch lives in, for messages.
    halted_key: str = "control:halted"
    #: Where the password rollover stands after this run (None: not asked).
    rollover: roll.Rollover | None = None

    @property
    def switch(self) -> KillSwitch:
        return self.kill_switch or KillSwitch(wanted=self.halted)


def _redis_condition(obs: Observation) -> Condition:
    redis = obs.redis
    if redis is None:
        return Condition("RedisReady", False, "NotCreated", "the Redis StatefulSet does not exist")
    if not redis.available:
        return Condition(
            "RedisReady",
            False,
            "ReplicasNotReady",
            f"{redis.ready}/{redis.desired} Redis pods ready",
        )
    if obs.sentinel and not obs.master_probed:
        return Condition("RedisReady", True, "AllReplicasReady",
                         f"{redis.ready}/{redis.desired} ready; master not probed"
                         " (TS_OPERATOR_PROBE_SENTINEL is off)")  # fmt: skip
    if obs.redis_probe_problem:
        return Condition("RedisReady", False, "ProbeFailed", obs.redis_probe_problem)
    if obs.redis_split_brain:
        return Condition("RedisReady", False, "SplitBrain", obs.redis_split_brain)
    if obs.sentinel and not obs.redis_master:
        return Condition("RedisReady", False, "NoMaster", "Sentinel reports no master")
    where = f"; master {obs.redis_master}" if obs.redis_master else ""
    return Condition(
        "RedisReady", True, "AllReplicasReady", f"{redis.ready}/{redis.desired} ready{where}"
    )


def _workers_condition(obs: Observation) -> Condition:
    short = [w for w in obs.workers if not w.available]
    if short:
        detail = ", ".join(f"{w.name} {w.ready}/{w.desired}" for w in short)
        return Condition("WorkersAvailable", False, "WorkersUnavailable", detail)
    return Condition("WorkersAvailable", True, "AllWorkersAvailable",
                     f"{len(obs.workers)} workers available")  # fmt: skip


def _monitoring_condition(obs: Observation) -> Condition:
    """Separate from Ready: a cluster without the prometheus-operator still trades."""
    if not obs.monitoring.enabled:
        return Condition("MonitoringAvailable", True, "Disabled",
                         "spec.monitoring renders no monitors or rules")  # fmt: skip
    if obs.monitoring.missing:
        return Condition(
            "MonitoringAvailable", False, "CRDNotInstalled",
            f"not served by the API server: {', '.join(obs.monitoring.missing)}; install the "
            "prometheus-operator CRDs (everything else is applied)",
        )  # fmt: skip
    return Condition("MonitoringAvailable", True, "Applied", "monitors and alert rules applied")


def _progressing_condition(obs: Observation) -> Condition:
    if obs.paused:
        return Condition(
            "Progressing", False, "Paused", "spec.paused: the operator leaves the stack alone"
        )
    rolling = [c.name for c in (obs.redis, *obs.workers) if c is not None and c.progressing]
    if rolling:
        return Condition("Progressing", True, "RollingOut", "rolling out: " + ", ".join(rolling))
    return Condition("Progressing", False, "Settled", "every child is at its latest generation")


def _degraded_condition(obs: Observation, redis: Condition, workers: Condition,
                        progressing: Condition) -> Condition:  # fmt: skip
    if obs.spec_error:
        return Condition("Degraded", True, "InvalidSpec", obs.spec_error)
    if obs.switch.pending:
        halted = halted_condition(obs.switch, obs.halted_key)
        return Condition("Degraded", True, halted.reason, halted.message)
    if obs.apply_error:
        return Condition("Degraded", True, "ApplyFailed", obs.apply_error)
    if redis.reason == "NoMaster":
        return Condition("Degraded", True, "NoRedisMaster", redis.message)
    if redis.reason == "SplitBrain":
        return Condition("Degraded", True, "SplitBrain", redis.message)
    if not progressing.status and not (redis.status and workers.status):
        failing = redis if not redis.status else workers
        return Condition("Degraded", True, "ComponentsUnavailable", failing.message)
    return Condition("Degraded", False, "AsExpected", "nothing is degraded")


def conditions_for(obs: Observation) -> list[Condition]:
    redis = _redis_condition(obs)
    workers = _workers_condition(obs)
    progressing = _progressing_condition(obs)
    degraded = _degraded_condition(obs, redis, workers, progressing)
    if degraded.status:
        ready = Condition("Ready", False, degraded.reason, degraded.message)
    elif not redis.status:
        ready = Condition("Ready", False, redis.reason, redis.message)
    elif not workers.status:
        ready = Condition("Ready", False, workers.reason, workers.message)
    elif progressing.status:
        # Old pods still serve: `kubectl wait --for=condition=Ready` must wait for the new spec.
        ready = Condition("Ready", False, progressing.reason, progressing.message)
    else:
        ready = Condition("Ready", True, "StackReady", "Redis and every worker are available")
    halted = halted_condition(obs.switch, obs.halted_key)
    return [ready, redis, workers, _monitoring_condition(obs), progressing, degraded, halted]


def _phase(conditions: Mapping[str, Condition], obs: Observation) -> str:
    if obs.spec_error:
        return "Invalid"
    if obs.paused:
        return "Paused"
    if conditions["Ready"].status:
        return "Ready"
    if conditions["Degraded"].status:
        return "Degraded"
    return "Progressing"


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compute_status(
    obs: Observation, previous: Mapping[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """The whole status object to write."""
    before = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    computed = conditions_for(obs)
    # Only on a stack that has rolled its passwords over: see .rollover.
    rolled = roll.rollover_condition(obs.rollover, before.get(roll.TYPE), now)
    if rolled is not None:
        computed.append(rolled)
    conditions = []
    for cond in computed:
        status = cond.status_text
        prior = before.get(cond.type)
        kept = (
            prior is not None and prior.get("status") == status and prior.get("lastTransitionTime")
        )
        conditions.append({
            "type": cond.type,
            "status": status,
            "reason": cond.reason,
            "message": cond.message[:32768],
            "lastTransitionTime": kept or _timestamp(now),
            "observedGeneration": obs.generation,
        })  # fmt: skip
    components = {
        c.name: {"ready": c.ready, "desired": c.desired}
        for c in (obs.redis, *obs.workers)
        if c is not None
    }
    return {
        "phase": _phase({c.type: c for c in computed}, obs),
        "observedGeneration": obs.generation,
        "conditions": conditions,
        "redisMaster": obs.redis_master,
        "components": components,
    }


#: Conditions whose flips are announced as Events.
_ANNOUNCED = ("Ready", "Degraded", "Halted", "MonitoringAvailable")
#: (condition, status) pairs that are failures: announced as Warnings.
_FAILURES = {("Degraded", "True"), ("MonitoringAvailable", "False")}
#: Reasons that are failures whatever the condition's status.
_FAILING_REASONS = {"InvalidSpec", roll.STUCK}


def _announced(prior: Mapping[str, Any] | None, cond: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(reason, message) of the Events a condition posts on moving from ``prior``: one
    when its status or reason flipped; each step of a password rollover (``.rollover``)."""
    if cond["type"] == roll.TYPE:
        return roll.announced(prior, cond)
    if cond["type"] not in _ANNOUNCED:
        return []
    if prior is not None and (prior["status"], prior["reason"]) == (
        cond["status"],
        cond["reason"],
    ):
        return []
    return [(cond["reason"], cond["message"])]


def transitions(
    previous: Mapping[str, Any], status: Mapping[str, Any]
) -> list[tuple[str, str, str]]:
    """One Event per reason among the conditions that flipped (status or reason).

    Ready turning False for the same reason Degraded turns True is one failure, posted
    once, as a Warning. Each step of a password rollover is one Event (``.rollover``).
    """
    before = {c["type"]: c for c in previous.get("conditions") or []}
    events: dict[str, tuple[str, str, str]] = {}
    for cond in status["conditions"]:
        for reason, message in _announced(before.get(cond["type"]), cond):
            failure = (cond["type"], cond["status"]) in _FAILURES or reason in _FAILING_REASONS
            if failure or reason not in events:
                events[reason] = ("Warning" if failure else "Normal", reason, message)
    return list(events.values())
