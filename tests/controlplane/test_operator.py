"""The real operator (kopf + our handlers) against a real control plane.

It runs as a ServiceAccount bound to exactly the RBAC the chart ships
(:mod:`tradingstack_operator.rbac`); kwok's fake nodes run the pods, so Deployments and
the Redis StatefulSet become Available through the real controllers and scheduler.
No Redis runs in those pods: where the operator asks Sentinel for the master, its probe
seam points at real redis-sentinel processes on loopback (``sentinel_probe``).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from tests.controlplane.conftest import (
    OPERATOR_ACCOUNT,
    WAIT,
    RunOperator,
    sentinel_kill_switch,
    sentinel_probe,
)
from tests.controlplane.stacks import (
    SPEC,
    Stacks,
    child_writes,
    operator_writes,
    stack_reads,
    unavailable,
    workloads_available,
)
from tests.harness.controlplane import (
    ControlPlane,
    service_account_user,
    wait_for,
)
from tests.harness.redis_procs import SentinelCluster
from tests.harness.tools import tool
from tradingstack_operator import rbac
from tradingstack_operator.reconcile.status import transitions
from tradingstack_operator.render import render_children
from tradingstack_operator.render.names import redis_auth
from tradingstack_operator.resources import CHILD_RESOURCES
from tradingstack_operator.spec import parse_spec

STACK = "paper"


@pytest.fixture
def stacks(control_plane: ControlPlane, namespace: str) -> Stacks:
    return Stacks(control_plane, namespace)


@dataclass
class Scene:
    """A settled stack, with the operator running as its ServiceAccount."""

    plane: ControlPlane
    namespace: str
    stacks: Stacks
    user: str  # the operator's username, as the audit log records it
    redis: SentinelCluster  # where the operator's kill switch writes (kwok pods run none)


@pytest.fixture
def ready(
    control_plane: ControlPlane,
    namespace: str,
    stacks: Stacks,
    run_operator: RunOperator,
    sentinel_cluster: SentinelCluster,
) -> Scene:
    run_operator(
        probe=sentinel_probe(sentinel_cluster), kill_switch=sentinel_kill_switch(sentinel_cluster)
    )
    stacks.create(STACK)
    settle(stacks, namespace)
    return Scene(
        control_plane, namespace, stacks, service_account_user(namespace, OPERATOR_ACCOUNT),
        sentinel_cluster,
    )  # fmt: skip


def expected(namespace: str, spec: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    rendered = render_children(STACK, namespace, parse_spec(SPEC if spec is None else spec))
    return {(m["kind"], m["metadata"]["name"]) for m in rendered} | {("Secret", redis_auth(STACK))}


def kinds_and_names(children: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(c["kind"], c["metadata"]["name"]) for c in children}


def settle(stacks: Stacks, namespace: str) -> None:
    wait_for(
        lambda: expected(namespace) <= kinds_and_names(stacks.children(STACK)),
        WAIT,
        "every child applied",
    )
    wait_for(
        lambda: not unavailable(stacks.children(STACK)) or None,
        WAIT,
        "workloads available",
        last=lambda: (unavailable(stacks.children(STACK)), stacks.pod_phases()),
    )
    stacks.wait_condition(STACK, "Ready", timeout=WAIT)
    # The Events of the last status write are posted from kopf's queue after that write:
    # a test's window must not start before they are (a no-op resync saw one as a write).
    wait_for(lambda: announced(stacks), WAIT, "every condition's Event posted")
    # kopf's own one-time write: the finalizer that lets it stop the resync timer on deletion.
    wait_for(lambda: stacks.get(STACK)["metadata"].get("finalizers"), WAIT, "kopf's finalizer")


def announced(stacks: Stacks) -> bool:
    """Each Event the stack's current conditions imply (the operator's own ``transitions``
    from an empty status) is posted."""
    status = stacks.get(STACK).get("status") or {}
    if not status.get("conditions"):
        return False
    wanted = {reason for _, reason, _ in transitions({}, status)}
    return wanted <= {event.get("reason") for event in stacks.events(STACK)}


def wait_resyncs(plane: ControlPlane, since: int, user: str, runs: int = 3) -> None:
    """Until the operator has reconciled ``runs`` more times (it reads the stack each run)."""
    wait_for(lambda: stack_reads(plane, since, user, STACK) >= runs, WAIT, f"{runs} resyncs")


def test_a_stack_becomes_ready_and_kubectl_wait_returns(
    control_plane: ControlPlane,
    namespace: str,
    stacks: Stacks,
    run_operator: RunOperator,
    sentinel_cluster: SentinelCluster,
) -> None:
    run_operator(probe=sentinel_probe(sentinel_cluster))
    uid = stacks.create(STACK)["metadata"]["uid"]
    waited = subprocess.run(
        [tool("kubectl"), "--kubeconfig", str(control_plane.admin_kubeconfig), "-n", namespace,
         "wait", "--for=condition=Ready", f"ts/{STACK}", f"--timeout={int(WAIT)}s"],
        capture_output=True, text=True, timeout=WAIT + 30, check=False,
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr
    children = stacks.children(STACK)
    assert expected(namespace) <= kinds_and_names(children)
    for child in children:
        (owner,) = child["metadata"]["ownerReferences"]
        assert (owner["uid"], owner["controller"]) == (uid, True), child["metadata"]["name"]
    assert workloads_available(children)
    status = stacks.get(STACK)["status"]
    assert status["redisMaster"] == f"127.0.0.1:{sentinel_cluster.master_port()}"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["MonitoringAvailable"] == "True"
    assert conditions["Degraded"] == "False"
    assert status["phase"] == "Ready"
    assert status["components"]["bot-alpha"] == {"ready": 2, "desired": 2}  # one key per bot
    assert "bot" not in status["components"]


def test_a_noop_resync_makes_no_write_request(ready: Scene) -> None:
    mark = ready.plane.audit_mark()
    wait_resyncs(ready.plane, mark, ready.user)
    assert operator_writes(ready.plane, mark, ready.user) == []


def test_a_noop_resync_reads_only_the_stack_the_children_come_from_watches(
    ready: Scene,
) -> None:
    mark = ready.plane.audit_barrier()
    wait_resyncs(ready.plane, mark, ready.user)
    ready.plane.audit_barrier()
    requests = {
        (e["verb"], (e.get("objectRef") or {}).get("resource"))
        for e in ready.plane.audit_events(mark, ready.user)
        if e["verb"] != "watch"  # kopf's long-running watches end at their own timeout
    }
    assert requests == {("get", "tradingstacks")}


def test_a_spec_change_rewrites_only_the_affected_child(ready: Scene) -> None:
    mark = ready.plane.audit_mark()
    patched = ready.stacks.patch_spec(STACK, {"workers": {"gate": {"replicas": 3}}})
    generation = patched["metadata"]["generation"]

    def rolled_out() -> bool:
        gate = ready.plane.rest(
            "GET", f"/apis/apps/v1/namespaces/{ready.namespace}/deployments/{STACK}-gate"
        )
        status = ready.stacks.get(STACK)["status"]
        return bool(gate["spec"]["replicas"] == 3 and status["observedGeneration"] == generation)

    wait_for(rolled_out, WAIT, "gate scaled to 3 and the new generation observed")
    writes = operator_writes(ready.plane, mark, ready.user)
    assert child_writes(writes) == [f"patch deployments/{STACK}-gate"], writes


def test_the_watch_reacts_to_spec_changes_and_not_to_status_or_label_writes(
    control_plane: ControlPlane,
    namespace: str,
    stacks: Stacks,
    run_operator: RunOperator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the resync timer an hour away, only watch events drive the operator: a new
    stack (read once) and a spec change are applied at once, while a write that leaves the spec as
    the status last observed it (our own status patch, kopf's finalizer, a label) starts
    no reconcile: the operator does not even read the stack for it."""
    run_operator(resync_seconds=3600.0)
    user = service_account_user(namespace, OPERATOR_ACCOUNT)
    created = control_plane.audit_mark()
    stacks.create(STACK)
    wait_for(lambda: expected(namespace) <= kinds_and_names(stacks.children(STACK)), WAIT,
             "every child applied, from the creation event")  # fmt: skip
    wait_for(lambda: (stacks.get(STACK).get("status") or {}).get("observedGeneration") == 1,
             WAIT, "the first generation observed")  # fmt: skip

    def handled() -> int:
        return sum("on_event' succeeded" in r.getMessage() for r in caplog.records)

    def label(value: str) -> None:
        before = handled()
        control_plane.rest("PATCH", stacks.path(STACK),
                           {"metadata": {"labels": {"test.example/poke": value}}},
                           content_type="application/merge-patch+json")  # fmt: skip
        wait_for(lambda: handled() > before, WAIT, f"the operator handling label {value}")

    label("1")  # kopf handles one object's events in order: nothing earlier is in flight
    mark = control_plane.audit_barrier()
    # One pass, from the creation event: the timer's first run waits its interval.
    assert stack_reads(control_plane, created, user, STACK) == 1
    label("2")
    control_plane.audit_barrier()
    assert stack_reads(control_plane, mark, user, STACK) == 0
    stacks.patch_spec(STACK, {"workers": {"gate": {"replicas": 3}}})
    gate = f"/apis/apps/v1/namespaces/{namespace}/deployments/{STACK}-gate"
    wait_for(lambda: control_plane.rest("GET", gate)["spec"]["replicas"] == 3, WAIT,
             "the spec change applied, from its event")  # fmt: skip
    assert stack_reads(control_plane, mark, user, STACK) >= 1


def test_stacks_created_together_share_one_discovery(
    control_plane: ControlPlane,
    namespace: str,
    stacks: Stacks,
    run_operator: RunOperator,
) -> None:
    """Which child kinds the server serves is asked once per operator start, also when the
    first passes of several stacks begin together, one per handler thread (at 100 stacks,
    bench.operator_controlplane counted 0.59 discovery requests per stack)."""
    user = service_account_user(namespace, OPERATOR_ACCOUNT)
    mark = control_plane.audit_mark()
    run_operator(resync_seconds=3600.0)
    names = [f"{STACK}-{i}" for i in range(8)]
    for name in names:
        stacks.create(name)
    wait_for(lambda: all((stacks.get(name).get("status") or {}).get("observedGeneration") == 1
                         for name in names), WAIT, "every stack reconciled once")  # fmt: skip
    control_plane.audit_barrier()
    asked = sorted(
        e["requestURI"] for e in control_plane.audit_events(mark, user)
        if e["verb"] == "get" and not e.get("objectRef")
        and not e.get("userAgent", "").startswith("kopf/")  # kopf's own, once per kind
    )  # fmt: skip
    versions = {r.api_version for r in CHILD_RESOURCES}
    assert asked == sorted("/api/v1" if v == "v1" else f"/apis/{v}" for v in versions)


def test_a_deleted_child_comes_back_and_a_hand_edit_is_reverted(ready: Scene) -> None:
    service = f"/api/v1/namespaces/{ready.namespace}/services/{STACK}-gate"
    deployment = f"/apis/apps/v1/namespaces/{ready.namespace}/deployments/{STACK}-intel"
    ready.plane.rest("DELETE", service)
    ready.plane.rest(
        "PATCH", deployment, {"spec": {"replicas": 5}}, content_type="application/merge-patch+json"
    )
    wait_for(lambda: ready.plane.rest("GET", service), WAIT, "the deleted Service back")
    wait_for(
        lambda: ready.plane.rest("GET", deployment)["spec"]["replicas"] == 1,
        WAIT,
        "the hand-edited replicas reverted",
    )


def test_deleting_the_stack_removes_every_child_by_garbage_collection(ready: Scene) -> None:
    ready.stacks.delete(STACK)
    wait_for(lambda: not ready.stacks.children(STACK), WAIT, "every child collected")


def test_a_paused_stack_is_left_alone(ready: Scene) -> None:
    ready.stacks.patch_spec(STACK, {"paused": True})
    ready.stacks.wait_condition(STACK, "Progressing", "False", reason="Paused")
    mark = ready.plane.audit_mark()
    ready.stacks.patch_spec(STACK, {"workers": {"gate": {"replicas": 4}}})
    wait_resyncs(ready.plane, mark, ready.user)
    assert child_writes(operator_writes(ready.plane, mark, ready.user)) == []
    assert ready.stacks.get(STACK)["status"]["phase"] == "Paused"


def deployments(scene: Scene) -> dict[str, tuple[Any, Any]]:
    """Each Deployment's generation and pod template: what a roll would change."""
    return {
        c["metadata"]["name"]: (c["metadata"].get("generation"), c["spec"]["template"])
        for c in scene.stacks.children(STACK)
        if c["kind"] == "Deployment"
    }


def test_halting_is_written_to_redis_rolls_no_pod_and_a_halted_stack_stays_ready(
    ready: Scene,
) -> None:
    before = deployments(ready)
    master = ready.redis.master().client()
    ready.stacks.patch_spec(STACK, {"halted": True})
    ready.stacks.wait_condition(STACK, "Halted", reason="KillSwitchEngaged", timeout=WAIT)
    assert master.get("quantum:control:halted") == "1"
    ready.stacks.wait_condition(STACK, "Ready", timeout=WAIT)
    assert deployments(ready) == before  # no pod rolled
    ready.stacks.patch_spec(STACK, {"halted": False})
    ready.stacks.wait_condition(STACK, "Halted", "False", reason="Trading", timeout=WAIT)
    assert master.get("quantum:control:halted") == "0"
    assert deployments(ready) == before


def test_an_invalid_spec_is_one_warning_event_and_no_children(
    namespace: str,
    stacks: Stacks,
    run_operator: RunOperator,
) -> None:
    # The CRD admits names up to 253 characters; the children's names need the stack's
    # to fit in 48 (the renderer's rule), so the operator refuses it.
    name = "a" * 60
    run_operator()
    stacks.create(name)
    degraded = stacks.wait_condition(name, "Degraded", timeout=WAIT)
    assert degraded["reason"] == "InvalidSpec"
    assert "48" in degraded["message"]

    def warned() -> list[dict[str, Any]]:
        return [e for e in stacks.events(name) if e["reason"] == "InvalidSpec"]

    (event,) = wait_for(warned, WAIT, "an InvalidSpec Event")
    assert event["type"] == "Warning"
    assert stacks.children(name) == []


def test_a_missing_verb_is_the_servers_403_and_every_other_child_is_applied(
    namespace: str,
    stacks: Stacks,
    run_operator: RunOperator,
) -> None:
    rules = rbac.namespaced_rules(peering=False)
    for rule in rules:
        if "deployments" in rule["resources"]:
            rule["resources"] = [r for r in rule["resources"] if r != "deployments"]
            rules.append({"apiGroups": rule["apiGroups"], "resources": ["deployments"],
                          "verbs": [v for v in rule["verbs"] if v != "create"]})  # fmt: skip
            break
    run_operator(rules=rules)
    stacks.create(STACK)
    degraded = stacks.wait_condition(STACK, "Degraded", timeout=WAIT)
    assert degraded["reason"] == "ApplyFailed"
    assert "403" in degraded["message"]
    assert "deployments" in degraded["message"]
    made = kinds_and_names(stacks.children(STACK))
    missing = expected(namespace) - made
    assert missing, "the Deployments cannot be made"
    assert {kind for kind, _ in missing} == {"Deployment"}

    def warned() -> list[dict[str, Any]]:
        return [e for e in stacks.events(STACK) if e["reason"] == "ApplyFailed"]

    (event,) = wait_for(warned, WAIT, "an ApplyFailed Event")
    assert event["type"] == "Warning"


def test_a_stack_being_deleted_is_not_reconciled(
    ready: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    finalizers = [*ready.stacks.get(STACK)["metadata"]["finalizers"], "test.example/hold"]
    ready.plane.rest(
        "PATCH",
        ready.stacks.path(STACK),
        {"metadata": {"finalizers": finalizers}},
        content_type="application/merge-patch+json",
    )
    ready.stacks.delete(STACK)
    # kopf releases its own finalizer; ours holds the stack in deletion.
    wait_for(
        lambda: ready.stacks.get(STACK)["metadata"].get("finalizers") == ["test.example/hold"],
        WAIT,
        "kopf's finalizer released",
    )
    # A child lost meanwhile is not recreated: the stack is going, and GC will follow.
    # (kopf stops the resync timer of a stack in deletion; an edit still sends an event.)
    mark = ready.plane.audit_mark()
    ready.plane.rest("DELETE", f"/api/v1/namespaces/{ready.namespace}/services/{STACK}-gate")

    def handled() -> int:
        return sum("on_event' succeeded" in r.getMessage() for r in caplog.records)

    before = handled()
    ready.plane.rest(
        "PATCH",
        ready.stacks.path(STACK),
        {"metadata": {"annotations": {"test.example/poke": "1"}}},
        content_type="application/merge-patch+json",
    )
    wait_for(lambda: handled() > before, WAIT, "the operator handling the edit")
    assert child_writes(operator_writes(ready.plane, mark, ready.user)) == []
    ready.plane.rest(
        "PATCH",
        ready.stacks.path(STACK),
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
