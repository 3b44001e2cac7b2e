"""Status conditions from observations: shape, reasons, transitions, phase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tradingstack_operator.reconcile.killswitch import KillSwitch
from tradingstack_operator.reconcile.status import (
    Component,
    Monitoring,
    Observation,
    component_name,
    compute_status,
    transitions,
)
from tradingstack_operator.render.pods import BOT_LABEL
from tradingstack_operator.resources import COMPONENT_LABEL
from tradingstack_operator.spec import TradingStackStatus

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def healthy(**overrides: Any) -> Observation:
    base: dict[str, Any] = {
        "generation": 4,
        "halted": False,
        "paused": False,
        "redis": Component("redis", 3, 3, 3, rolled_out=True),
        "redis_master": "paper-redis-0.paper-redis-headless:6379",
        "workers": [Component("gate", 2, 2, 2, rolled_out=True),
                    Component("intel", 1, 1, 1, rolled_out=True)],
    }  # fmt: skip
    return Observation(**(base | overrides))


def by_type(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_a_healthy_stack_is_ready_with_every_condition_in_metav1_shape() -> None:
    status = compute_status(healthy(), None, T0)
    conditions = by_type(status)
    assert list(conditions) == [
        "Ready", "RedisReady", "WorkersAvailable", "MonitoringAvailable", "Progressing",
        "Degraded", "Halted",
    ]  # fmt: skip
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Degraded"]["status"] == "False"
    for cond in conditions.values():
        assert set(cond) == {"type", "status", "reason", "message", "lastTransitionTime",
                             "observedGeneration"}  # fmt: skip
        assert cond["observedGeneration"] == 4
        assert cond["lastTransitionTime"] == "2026-11-22T03:00:00Z"
    assert status["phase"] == "Ready"
    assert status["observedGeneration"] == 4
    assert status["components"]["gate"] == {"ready": 2, "desired": 2}
    assert status["redisMaster"].startswith("paper-redis-0")


def test_transition_time_moves_only_when_the_status_flips() -> None:
    first = compute_status(healthy(), None, T0)
    later = T0 + timedelta(minutes=5)
    same = compute_status(healthy(), first, later)
    assert by_type(same)["Ready"]["lastTransitionTime"] == "2026-11-22T03:00:00Z"
    short = [Component("gate", 2, 1, 2, rolled_out=True)]
    flipped = compute_status(healthy(workers=short), same, later)
    assert by_type(flipped)["Ready"]["lastTransitionTime"] == "2026-11-22T03:05:00Z"
    assert by_type(flipped)["Halted"]["lastTransitionTime"] == "2026-11-22T03:00:00Z"


def test_a_rollout_is_progressing_not_degraded() -> None:
    rolling = [Component("gate", 2, 1, 1, rolled_out=True)]
    conditions = by_type(compute_status(healthy(workers=rolling), None, T0))
    assert conditions["Progressing"]["status"] == "True"
    assert conditions["Degraded"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "WorkersUnavailable"
    assert "gate 1/2" in conditions["WorkersAvailable"]["message"]


def test_settled_but_short_is_degraded() -> None:
    stuck = [Component("gate", 2, 0, 2, rolled_out=True)]
    status = compute_status(healthy(workers=stuck), None, T0)
    assert by_type(status)["Degraded"]["reason"] == "ComponentsUnavailable"
    assert status["phase"] == "Degraded"


def test_sentinel_without_a_master_is_degraded() -> None:
    conditions = by_type(compute_status(healthy(redis_master=None), None, T0))
    assert conditions["RedisReady"]["reason"] == "NoMaster"
    assert conditions["Degraded"]["reason"] == "NoRedisMaster"


def test_an_invalid_spec_is_reported_with_its_message() -> None:
    obs = healthy(spec_error="spec.redis.sentinel.quorum: 4 is more than spec.redis.replicas (3)")
    status = compute_status(obs, None, T0)
    ready = by_type(status)["Ready"]
    assert ready["status"] == "False"
    assert ready["reason"] == "InvalidSpec"
    assert "quorum" in ready["message"]
    assert status["phase"] == "Invalid"


def engaged(halted: bool, held: bool | None, replicated: bool = True) -> KillSwitch:
    return KillSwitch(wanted=halted, held=held, replicated=replicated)


def test_halted_and_paused_are_visible() -> None:
    obs = healthy(halted=True, kill_switch=engaged(True, True))
    conditions = by_type(compute_status(obs, None, T0))
    assert conditions["Halted"] == conditions["Halted"] | {
        "status": "True", "reason": "KillSwitchEngaged",
    }  # fmt: skip
    assert conditions["Ready"]["status"] == "True"  # halted is not broken
    paused = compute_status(healthy(paused=True), None, T0)
    assert paused["phase"] == "Paused"
    assert by_type(paused)["Progressing"]["reason"] == "Paused"


def test_missing_monitoring_crds_are_their_own_condition_and_the_stack_stays_ready() -> None:
    missing = Monitoring(missing=("servicemonitors.monitoring.coreos.com",))
    conditions = by_type(compute_status(healthy(monitoring=missing), None, T0))
    assert conditions["MonitoringAvailable"]["status"] == "False"
    assert conditions["MonitoringAvailable"]["reason"] == "CRDNotInstalled"
    assert "servicemonitors.monitoring.coreos.com" in conditions["MonitoringAvailable"]["message"]
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Degraded"]["status"] == "False"
    off = by_type(compute_status(healthy(monitoring=Monitoring(enabled=False)), None, T0))
    assert off["MonitoringAvailable"]["status"] == "True"
    assert off["MonitoringAvailable"]["reason"] == "Disabled"


def test_one_failure_is_one_warning_event() -> None:
    ready = compute_status(healthy(), None, T0)
    failed = compute_status(healthy(apply_error="Deployment/x: 403 forbidden"), ready, T0)
    events = transitions(ready, failed)
    assert events == [("Warning", "ApplyFailed", "Deployment/x: 403 forbidden")]
    assert transitions(failed, failed) == []
    recovered = compute_status(healthy(), failed, T0)
    assert [(kind, reason) for kind, reason, _ in transitions(failed, recovered)] == [
        ("Normal", "StackReady"),
        ("Normal", "AsExpected"),
    ]
    missing = Monitoring(missing=("prometheusrules.monitoring.coreos.com",))
    no_crds = compute_status(healthy(monitoring=missing), ready, T0)
    assert [(kind, reason) for kind, reason, _ in transitions(ready, no_crds)] == [
        ("Warning", "CRDNotInstalled")
    ]


@pytest.mark.parametrize(
    "obs",
    [
        healthy(),
        healthy(monitoring=Monitoring(missing=("podmonitors.monitoring.coreos.com",))),
        healthy(halted=True, paused=True),
        healthy(halted=True, kill_switch=KillSwitch(True, error="Redis unreachable")),
        healthy(redis=None, workers=[]),
        healthy(spec_error="spec.symbols: empty"),
        healthy(apply_error="PATCH /apis/apps/v1/...: 422 invalid"),
    ],
)
def test_every_status_fits_the_crd_status_schema(obs: Observation) -> None:
    """A field the schema lacks would be pruned by the server and rewritten on every resync."""
    status = compute_status(obs, None, T0)
    written = {k: v for k, v in status.items() if v is not None}
    model = TradingStackStatus.model_validate(written)
    assert model.model_dump(by_alias=True, exclude_none=True, mode="json").keys() == written.keys()


def test_ready_is_false_while_old_pods_still_serve_the_previous_generation() -> None:
    # Enough pods are ready, but they are the old ones: the new template has not rolled out.
    cases = [
        Component("gate", 2, 2, 1, rolled_out=True, current=3),  # one new pod, surge
        Component("gate", 2, 2, 2, rolled_out=True, current=3),  # an old pod still running
        Component("gate", 2, 2, 2, rolled_out=False, current=2),  # generation not observed
    ]
    for rolling in cases:
        conditions = by_type(compute_status(healthy(workers=[rolling]), None, T0))
        assert conditions["WorkersAvailable"]["status"] == "True"
        assert conditions["Progressing"]["status"] == "True"
        assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == (
            "False", "RollingOut",
        )  # fmt: skip
        assert "gate" in conditions["Ready"]["message"]
    done = Component("gate", 2, 2, 2, rolled_out=True, current=2)
    assert by_type(compute_status(healthy(workers=[done]), None, T0))["Ready"]["status"] == "True"


def test_each_bot_reports_under_its_own_name() -> None:
    alpha = {COMPONENT_LABEL: "bot", BOT_LABEL: "alpha"}
    assert component_name(alpha, "paper-bot-alpha") == "bot-alpha"
    assert component_name({COMPONENT_LABEL: "gate"}, "paper-gate") == "gate"
    assert component_name({}, "paper-gate") == "paper-gate"
    bots = [Component("bot-alpha", 2, 2, 2, rolled_out=True),
            Component("bot-beta", 2, 0, 2, rolled_out=True)]  # fmt: skip
    status = compute_status(healthy(workers=bots), None, T0)
    assert status["components"]["bot-alpha"] == {"ready": 2, "desired": 2}
    assert status["components"]["bot-beta"] == {"ready": 0, "desired": 2}
    assert "bot-beta 0/2" in by_type(status)["WorkersAvailable"]["message"]


@pytest.mark.parametrize(
    ("switch", "halted", "reason", "degraded"),
    [
        (engaged(True, True), "True", "KillSwitchEngaged", False),
        (engaged(True, True, replicated=False), "True", "KillSwitchPending", True),
        (engaged(True, False), "False", "KillSwitchPending", True),
        (engaged(True, None), "Unknown", "KillSwitchPending", True),
        (engaged(False, True), "True", "KillSwitchPending", True),
        (engaged(False, False), "False", "Trading", False),
        (engaged(False, None), "Unknown", "KillSwitchUnknown", False),
    ],
)  # fmt: skip
def test_halted_reports_what_redis_holds(
    switch: KillSwitch, halted: str, reason: str, degraded: bool
) -> None:
    obs = healthy(halted=switch.wanted, kill_switch=switch)
    status = compute_status(obs, None, T0)
    conditions = by_type(status)
    assert (conditions["Halted"]["status"], conditions["Halted"]["reason"]) == (halted, reason)
    assert (conditions["Degraded"]["status"] == "True") is degraded
    if degraded:
        assert conditions["Degraded"]["reason"] == "KillSwitchPending"
        assert conditions["Ready"]["status"] == "False"
    TradingStackStatus.model_validate(status)


def test_a_split_brain_makes_redis_not_ready_and_the_stack_degraded() -> None:
    found = "pods paper-redis-0, paper-redis-1 all report role master"
    status = compute_status(healthy(redis_split_brain=found), None, T0)
    conditions = by_type(status)
    assert conditions["RedisReady"]["status"] == "False"
    assert conditions["RedisReady"]["reason"] == "SplitBrain"
    assert conditions["RedisReady"]["message"] == found
    assert (conditions["Degraded"]["status"], conditions["Degraded"]["reason"]) == (
        "True", "SplitBrain"
    )  # fmt: skip
    assert conditions["Ready"]["status"] == "False"
    assert status["phase"] == "Degraded"
    TradingStackStatus.model_validate(status)


def test_an_unusable_password_is_reported_not_mistaken_for_no_master() -> None:
    problem = "Secret paper-redis-auth key password starts or ends with a blank"
    status = compute_status(healthy(redis_master=None, redis_probe_problem=problem), None, T0)
    redis = by_type(status)["RedisReady"]
    assert (redis["status"], redis["reason"], redis["message"]) == ("False", "ProbeFailed", problem)
