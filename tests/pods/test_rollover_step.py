"""The operator's own rollover step against real Redis pods and a real API server.

``password_rollover(kube, options)`` is what the reconciler calls on every run: it reads
the stack's Secrets through the API server (as the operator's ServiceAccount, bound to
the one RBAC definition), logs in to the pods by their FQDNs and judges the workers' roll
from the Deployments it is given. Here it runs in a process inside a namespace of the pod
network (where the FQDNs resolve), against a kube-apiserver bound to the network's
gateway. The Deployments are the reconciler's view of them: they carry the checksum the
step returns (as the reconciler stamps it) and roll when the test's worker does.

A person changes both Secrets under a writer's load while a replica is cut off; the step
is stuck on it and the workers keep their checksum; healed, the step switches Redis to
the new passwords before the workers' checksum moves; a worker with the new password
replaces the old one; the step finishes. No acknowledged write is lost, no login is refused, and the
PasswordsRolledOver condition computed from the step's answers says each step.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.harness.controlplane import ControlPlane
from tests.harness.pod_clients import AckWriter, RolloverStep
from tests.harness.podnet import PodNetwork
from tests.harness.redis_set import RedisSet, wait_until
from tests.harness.rollover_checks import (
    accepted_everywhere,
    no_auth_trouble,
    none_lost,
    only_new_accepted,
    roll_writer,
)
from tradingstack_operator import rbac
from tradingstack_operator.reconcile import rollover as roll
from tradingstack_operator.reconcile.rollover import Rollover
from tradingstack_operator.reconcile.rotation import ADMIN, secret_checksum, stamp
from tradingstack_operator.reconcile.status import Observation, compute_status, transitions
from tradingstack_operator.render import names, render

ACKED_AFTER = "quantum:pods:acked-after-step"
#: Generous: each call asks six nodes, with one-second timeouts, on a loaded machine.
STEP_WAIT = 180.0
Manifest = dict[str, Any]


@pytest.fixture
def apiserver(net: PodNetwork, tmp_path: Path) -> Iterator[ControlPlane]:
    """etcd and kube-apiserver, listening on the pod network's gateway only."""
    plane = ControlPlane(tmp_path / "control-plane", full=False, address=net.gateway).start()
    try:
        yield plane
    finally:
        plane.stop()


class Workers:
    """The stack's children as the reconciler observes them: the Redis StatefulSet ready,
    the worker and bot Deployments carrying the checksum last stamped, rolled or not."""

    def __init__(self, redis_set: RedisSet, checksum: str) -> None:
        self.rendered = render(redis_set.stack)
        self.users = names.redis_users(redis_set.stack.name)
        self.replicas = redis_set.replicas
        self.checksum = checksum
        self.generation = 1
        self.rolled = True

    def stamp(self, checksum: str | None) -> None:
        """The reconciler applies the step's checksum; a new one starts a roll."""
        if checksum is not None and checksum != self.checksum:
            self.checksum, self.generation, self.rolled = checksum, self.generation + 1, False

    def children(self) -> list[Manifest]:
        out = []
        for manifest in stamp(self.rendered, self.users, self.checksum):
            child = copy.deepcopy(manifest)
            if child["kind"] == "StatefulSet":
                child["status"] = {"replicas": self.replicas, "readyReplicas": self.replicas}
            elif child["kind"] == "Deployment":
                wanted = int(child["spec"].get("replicas", 1))
                child["metadata"]["generation"] = self.generation
                child["status"] = {
                    "observedGeneration": self.generation, "readyReplicas": wanted,
                    # While rolling: the new pods not yet updated, the old ones still there.
                    "replicas": wanted if self.rolled else wanted + 1,
                    "updatedReplicas": wanted if self.rolled else 0,
                }  # fmt: skip
            out.append(child)
        return out


class Report:
    """The stack's status as the reconciler would write it from the step's answers."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = {}
        self.events: list[tuple[str, str, str]] = []

    def __call__(self, answer: tuple[str | None, Rollover | None]) -> Rollover:
        rollover = answer[1]
        assert rollover is not None, "a running stack's Redis is always asked"
        obs = Observation(generation=1, halted=False, paused=False, rollover=rollover)
        after = compute_status(obs, self.status, datetime.now(UTC))
        self.events += [e for e in transitions(self.status, after)
                        if e[1].startswith("PasswordRollover")]  # fmt: skip
        self.status = after
        return rollover

    def condition(self) -> dict[str, Any] | None:
        return next((c for c in self.status["conditions"] if c["type"] == roll.TYPE), None)


@dataclass
class Desk:
    """The Redis pods, the API server holding their Secrets, and the operator's step."""

    redis_set: RedisSet
    apiserver: ControlPlane
    step: RolloverStep

    def change_secrets(self, new: dict[str, str]) -> None:
        """A person changes both Secrets in the API server; the kubelet mounts them in the
        pods."""
        stack = self.redis_set.stack
        auth, users = names.redis_auth(stack.name), names.redis_users(stack.name)
        changes = {auth: {stack.spec.redis.auth.key: new[ADMIN]},
                   users: {u: p for u, p in new.items() if u != ADMIN}}  # fmt: skip
        secrets_path = f"/api/v1/namespaces/{stack.namespace}/secrets"
        for name, data in changes.items():
            self.apiserver.rest("PATCH", f"{secrets_path}/{name}", {"stringData": data},
                                content_type="application/merge-patch+json")  # fmt: skip
        for name, data in changes.items():
            self.redis_set.update_secret(name, data)


@pytest.fixture
def desk(
    net: PodNetwork, redis_set: RedisSet, apiserver: ControlPlane, tmp_path: Path
) -> Iterator[Desk]:
    """The step in the namespace ``op``, as the operator's ServiceAccount, with the stack's
    Secrets in the API server as the operator made them."""
    stack = redis_set.stack
    apiserver.create_namespace(stack.namespace)
    for name, data in redis_set.secrets.data.items():
        apiserver.rest("POST", f"/api/v1/namespaces/{stack.namespace}/secrets",
                       {"metadata": {"name": name}, "stringData": data})  # fmt: skip
    kubeconfig = apiserver.service_account_kubeconfig(
        stack.namespace, "tradingstack-operator", rbac.namespaced_rules(peering=False)
    )
    net.add("op")
    process = RolloverStep(net, "op", redis_set, kubeconfig, tmp_path / "step")
    try:
        yield Desk(redis_set, apiserver, process)
    finally:
        process.stop()
        print("rollover step:", process.tail())


def stuck_while_a_replica_is_cut_off(desk: Desk, workers: Workers, report: Report) -> None:
    """A pod the step cannot reach holds the rollover back (the workers keep their
    checksum: that pod may refuse their new password), and the condition names it."""
    redis_set = desk.redis_set
    replica = (redis_set.wait_settled() + 1) % redis_set.replicas
    redis_set.cut(replica)
    try:
        answer = desk.step(workers.children())
        assert answer[0] == workers.checksum, answer
        rollover = report(answer)
        assert (rollover.switched, rollover.done) == (False, False), rollover
        stuck = report.condition()
        assert stuck is not None
        assert (stuck["status"], stuck["reason"]) == ("False", roll.STUCK), stuck
        for port in (names.REDIS_PORT, names.SENTINEL_PORT):
            assert f"{redis_set.fqdn(replica)}:{port}" in stuck["message"], stuck
    finally:
        redis_set.heal(replica)


def test_the_operators_step_rolls_the_secrets_over_without_losing_or_refusing(
    net: PodNetwork, desk: Desk, writer: AckWriter, tmp_path: Path
) -> None:
    redis_set, step = desk.redis_set, desk.step
    users = names.redis_users(redis_set.stack.name)
    old = {ADMIN: redis_set.admin_password} | redis_set.secrets.data[users]
    new = {user: secrets.token_urlsafe(32) for user in old}
    before, after = (secret_checksum({"worker": p["worker"]}) for p in (old, new))
    workers, report = Workers(redis_set, before), Report()

    # Nothing changed: nothing to roll over, no condition.
    checksum, rollover = step(workers.children())
    assert (checksum, rollover) == (before, Rollover(True, True, under_way=False)), step.tail()
    report((checksum, rollover))
    assert report.condition() is None

    desk.change_secrets(new)
    stuck_while_a_replica_is_cut_off(desk, workers, report)

    def switched() -> bool:
        answer = step(workers.children())
        if answer[0] == after:  # the workers move only once Redis takes their password
            assert accepted_everywhere(redis_set, "worker", new["worker"])
        else:
            assert answer[0] == before, answer
        workers.stamp(answer[0])
        return report(answer).switched

    wait_until(switched, STEP_WAIT, "the step to switch Redis to the new passwords")
    redis_set.admin_password = new[ADMIN]
    assert (workers.checksum, workers.rolled) == (after, False)
    switched_condition = report.condition()
    assert switched_condition is not None
    assert switched_condition["reason"] == roll.SWITCHED, switched_condition
    # A run while the workers roll keeps both passwords.
    assert not report(step(workers.children())).done
    assert accepted_everywhere(redis_set, "worker", old["worker"])

    rolled = roll_writer(net, redis_set, writer, tmp_path / "rolled-writer", ACKED_AFTER)
    try:
        workers.rolled = True
        wait_until(lambda: report(step(workers.children())).done, STEP_WAIT,
                   "the step to finish the rollover")  # fmt: skip
        finished = report.condition()
        assert finished is not None
        assert (finished["status"], finished["reason"]) == ("True", roll.FINISHED), finished
        assert only_new_accepted(redis_set, old, new)
        rolled.wait_acks(50, timeout=60, after=time.monotonic())  # still writing, on its own

        # Settled: the next run changes nothing, and says so with no new Event.
        answer = step(workers.children())
        assert answer == (after, Rollover(True, True, under_way=False))
        report(answer)
        assert report.condition() == finished
        assert [e[1] for e in report.events] == [
            roll.BEGUN, roll.STUCK, roll.SWITCHED, roll.FINISHED]  # fmt: skip
        rolled.stop()
        none_lost(redis_set.client(redis_set.wait_settled()), [writer, rolled])
        for process in (writer, rolled):
            no_auth_trouble(process)
    finally:
        rolled.stop()
        print(rolled.tail())


def test_an_admin_password_the_step_never_logged_in_with_is_stuck_until_put_back(
    desk: Desk,
) -> None:
    """The operator restarted between an admin password change and its next run: its
    step never logged in, so it knows no password the pods take. Stuck, naming every
    node; the README's way out (the old password back for one run, then the change
    again) finishes the rollover."""
    redis_set, step = desk.redis_set, desk.step
    users = names.redis_users(redis_set.stack.name)
    old = {ADMIN: redis_set.admin_password} | redis_set.secrets.data[users]
    new = old | {ADMIN: secrets.token_urlsafe(32)}
    workers, report = Workers(redis_set, secret_checksum({"worker": old["worker"]})), Report()

    desk.change_secrets(new)
    rollover = report(step(workers.children()))
    assert len(rollover.unreachable) == 2 * redis_set.replicas, rollover
    stuck = report.condition()
    assert stuck is not None
    assert (stuck["status"], stuck["reason"]) == ("False", roll.STUCK), stuck
    assert "refusing every admin password known" in stuck["message"]
    assert accepted_everywhere(redis_set, None, old[ADMIN])  # Redis left as it was

    desk.change_secrets(old)
    assert report(step(workers.children())).done
    desk.change_secrets(new)
    wait_until(lambda: report(step(workers.children())).done, STEP_WAIT,
               "the step to finish the admin password's rollover")  # fmt: skip
    redis_set.admin_password = new[ADMIN]
    assert accepted_everywhere(redis_set, None, new[ADMIN])
    assert not accepted_everywhere(redis_set, None, old[ADMIN])
    finished = report.condition()
    assert finished is not None
    assert (finished["status"], finished["reason"]) == ("True", roll.FINISHED), finished
    assert [e[1] for e in report.events] == [
        roll.BEGUN, roll.STUCK, roll.FINISHED, roll.BEGUN, roll.FINISHED]  # fmt: skip
