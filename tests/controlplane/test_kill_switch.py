"""The kill switch on a real control plane, whatever else is broken (issue #12's Must show).

The real kopf operator runs as its ServiceAccount against etcd, kube-apiserver, the
controllers and kwok; its kill switch writer is the production one, pointed through
real redis-sentinel processes on loopback (kwok's pods run no Redis). A real bot and
gate trade on that Redis (:mod:`tests.harness.halting`): the bot holds a position, its
replay signals the exit on bar 15 and a new entry on bar 30, so a halt set before
bar 10 must show the exit filled, the entry skipped ``halted``, no new position. Each
case also checks that no pod was restarted and that what the stack reports (its
status, or ``tradingstack status``) is what Redis holds.

- paused: the operator applies no child, yet writes the switch;
- a child the API server refuses: the Redis StatefulSet's volume claim template
  changed with the halt (422 from the real StatefulSet validation), the loop stops there;
- the operator stopped: ``tradingstack halt NAME`` through the kubeconfig and the
  stack's Secret; the operator, started again, reports the halt and rolls nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from kubernetes.client.exceptions import ApiException

from tests.controlplane.conftest import WAIT, RunOperator, sentinel_kill_switch, sentinel_probe
from tests.controlplane.stacks import Stacks
from tests.controlplane.test_operator import STACK, settle
from tests.harness.controlplane import ControlPlane, wait_for
from tests.harness.halting import HaltScenario
from tests.harness.kopf_runner import OperatorThread
from tests.harness.processes import ROOT
from tests.harness.redis_procs import SentinelCluster
from tradingstack_operator.render.names import account, redis_auth
from tradingstack_workers.keys import Keys

KEYS = Keys()  # the stack's default key prefix, as the operator writes it
#: Seconds from the bot's start to its first BUY bar: the operator's halt must land before
#: the entry 10 s later, on a loaded machine (the exit runs whatever the timing).
OPERATOR_LEEWAY = 20.0


@pytest.fixture
def scenario(sentinel_cluster: SentinelCluster, tmp_path: Path) -> Iterator[HaltScenario]:
    client = sentinel_cluster.master().client()
    running = HaltScenario.on_sentinels(client, sentinel_cluster, tmp_path)
    yield running
    running.stop()


@dataclass
class Desk:
    """The control plane, a namespace, the stack's Redis on loopback and a trading bot."""

    plane: ControlPlane
    namespace: str
    stacks: Stacks
    run_operator: RunOperator
    redis: SentinelCluster
    bot: HaltScenario

    def start_operator(self) -> OperatorThread:
        """The real operator, its probe and kill switch through the loopback sentinels."""
        return self.run_operator(
            probe=sentinel_probe(self.redis), kill_switch=sentinel_kill_switch(self.redis)
        )

    def held(self) -> str | None:
        """``<prefix>:control:halted`` as the current master holds it."""
        client: redis.Redis = self.redis.master().client()
        value = client.get(KEYS.halted)
        return None if value is None else str(value)

    def rollout_state(self) -> tuple[dict[str, tuple[str, int]], dict[str, tuple[Any, Any]]]:
        """Pods and workload templates: a roll or a restart changes them."""
        return pods(self.plane, self.namespace), workloads(self.stacks)


@pytest.fixture
def desk(
    control_plane: ControlPlane, namespace: str, run_operator: RunOperator,
    sentinel_cluster: SentinelCluster, scenario: HaltScenario,
) -> Desk:  # fmt: skip
    stacks = Stacks(control_plane, namespace)
    return Desk(control_plane, namespace, stacks, run_operator, sentinel_cluster, scenario)


def pods(plane: ControlPlane, namespace: str) -> dict[str, tuple[str, int]]:
    """Each pod's uid and container restarts: a roll or a restart changes them."""
    found = plane.rest("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
    out = {}
    for pod in found:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        restarts = sum(c.get("restartCount", 0) for c in statuses)
        out[pod["metadata"]["name"]] = (pod["metadata"]["uid"], restarts)
    return out


def workloads(stacks: Stacks) -> dict[str, tuple[Any, Any]]:
    """Each Deployment's and StatefulSet's generation and pod template."""
    return {
        f"{c['kind']}/{c['metadata']['name']}": (
            c["metadata"].get("generation"),
            c["spec"]["template"],
        )
        for c in stacks.children(STACK)
        if c["kind"] in ("Deployment", "StatefulSet")
    }


def halt_outcome(scenario: HaltScenario) -> None:
    """The bot's exit ran and its next entry was refused, as Redis records them."""
    assert not scenario.halted_entry_seen(), "the halt landed after the entry: inconclusive"
    wait_for(scenario.halted_entry_seen, WAIT, "the bot past its exit and its next entry")
    scenario.check_halted_outcome()
    assert scenario.alive()


def test_a_paused_stack_is_halted_in_redis_and_its_bot_stops_entering(desk: Desk) -> None:
    desk.start_operator()
    desk.stacks.create(STACK)
    settle(desk.stacks, desk.namespace)
    assert desk.held() == "0"
    desk.stacks.patch_spec(STACK, {"paused": True})
    desk.stacks.wait_condition(STACK, "Progressing", "False", reason="Paused", timeout=WAIT)
    before = desk.rollout_state()
    desk.bot.start(first_buy_in=OPERATOR_LEEWAY)

    desk.stacks.patch_spec(STACK, {"halted": True})
    halted = desk.stacks.wait_condition(STACK, "Halted", reason="KillSwitchEngaged", timeout=WAIT)
    assert desk.held() == "1"  # written although paused, and reported so
    assert KEYS.halted in halted["message"]
    halt_outcome(desk.bot)
    assert desk.stacks.get(STACK)["status"]["phase"] == "Paused"
    assert desk.rollout_state() == before


@contextmanager
def statefulset_updates_refused(plane: ControlPlane, namespace: str) -> Iterator[None]:
    """The real API server refuses every StatefulSet update in ``namespace`` (a
    ValidatingAdmissionPolicy), until the block ends; in force once a dry run is refused."""
    name = f"refuse-sts-{namespace}"
    group = "/apis/admissionregistration.k8s.io/v1"
    plane.rest("POST", f"{group}/validatingadmissionpolicies", {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["UPDATE"],
                "resources": ["statefulsets"],
            }]},
            "validations": [{"expression": "false",
                             "message": "this statefulset cannot change (test policy)"}],
        },
    })  # fmt: skip
    plane.rest("POST", f"{group}/validatingadmissionpolicybindings", {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name, "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": namespace}}},
        },
    })  # fmt: skip
    sts = f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{STACK}-redis"

    def refused() -> bool:
        try:
            plane.rest("PATCH", f"{sts}?dryRun=All", {"metadata": {"labels": {"probe": "1"}}},
                       content_type="application/merge-patch+json")  # fmt: skip
        except ApiException as exc:
            return "test policy" in str(exc.reason)
        return False

    try:
        wait_for(refused, WAIT, "the admission policy to refuse StatefulSet updates")
        yield
    finally:
        for kind in ("validatingadmissionpolicybindings", "validatingadmissionpolicies"):
            plane.rest("DELETE", f"{group}/{kind}/{name}")


def test_the_halt_lands_although_the_api_server_refuses_a_child(desk: Desk) -> None:
    desk.start_operator()
    desk.stacks.create(STACK)
    settle(desk.stacks, desk.namespace)
    before = desk.rollout_state()
    desk.bot.start(first_buy_in=OPERATOR_LEEWAY)

    # With the halt, a change to the Redis StatefulSet that the API server refuses on every
    # apply. (A larger volume, which a StatefulSet cannot take, is now refused earlier, by
    # the CRD's transition rules: the stack itself would not change.)
    with statefulset_updates_refused(desk.plane, desk.namespace):
        desk.stacks.patch_spec(STACK, {"halted": True, "redis": {"maxmemoryPercent": 60}})
        degraded = desk.stacks.wait_condition(STACK, "Degraded", reason="ApplyFailed",
                                              timeout=WAIT)  # fmt: skip
        assert "statefulset" in degraded["message"].lower(), degraded["message"]
        desk.stacks.wait_condition(STACK, "Halted", reason="KillSwitchEngaged", timeout=WAIT)
        assert desk.held() == "1"
        halt_outcome(desk.bot)
        assert desk.stacks.conditions(STACK)["Degraded"]["reason"] == "ApplyFailed"
        assert desk.rollout_state() == before


def cli(plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``tradingstack`` command, as a user with the admin kubeconfig."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TS_", "KUBECONFIG"))}
    env |= {"KUBECONFIG": str(plane.admin_kubeconfig), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tradingstack_workers.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT, check=False,
    )  # fmt: skip


def test_the_cli_halts_the_stack_while_the_operator_is_stopped(desk: Desk) -> None:
    operator = desk.start_operator()
    desk.stacks.create(STACK)
    settle(desk.stacks, desk.namespace)
    operator.halt()  # the operator is down from here on
    before = desk.rollout_state()
    # The CLI reads the password from the stack's Secret (made once by the operator, never
    # rewritten): set to the password of the Redis that stands in for the stack's pods,
    # as an admin rotating it would. kwok's pods run no sentinels: their stand-ins are named.
    desk.plane.rest(
        "PATCH", f"/api/v1/namespaces/{desk.namespace}/secrets/{redis_auth(STACK)}",
        {"stringData": {"password": desk.redis.password}},
        content_type="application/merge-patch+json",
    )  # fmt: skip
    sentinels = [f"--sentinel=127.0.0.1:{s.port}" for s in desk.redis.sentinels]
    where = ["-n", desk.namespace, *sentinels]
    desk.bot.start()

    done = cli(desk.plane, "halt", STACK, *where)
    assert done.returncode == 0, done.stderr
    assert desk.held() == "1"
    assert desk.stacks.get(STACK)["spec"]["halted"] is True  # the operator will agree
    halt_outcome(desk.bot)

    shown = cli(desk.plane, "status", STACK, "--json", *where)
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert (state["halted"], state["spec_halted"], state["where"]) == (True, True, "cluster")
    assert state["redis_master"] == f"127.0.0.1:{desk.redis.master_port()}"
    (alpha,) = [a for a in state["accounts"] if a["account"] == account(STACK, "alpha")]
    assert alpha["positions"] == {}
    assert desk.rollout_state() == before

    # The operator back: it reports the halt Redis holds and rolls nothing.
    desk.start_operator()
    desk.stacks.wait_condition(STACK, "Halted", reason="KillSwitchEngaged", timeout=WAIT)
    assert desk.held() == "1"
    assert desk.rollout_state() == before
