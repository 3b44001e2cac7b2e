"""The password rollover as a user sees it: the PasswordsRolledOver condition and Events.

The real operator runs as its ServiceAccount against the real control plane; kwok's pods
run no Redis, so the rollover step (the reconciler's seam, ``roll_passwords``) answers
for Redis what the test says it holds, and judges the workers' roll from the real
Deployments exactly as the production step does (``workers_rolled``). What the
production step does in Redis is proven on real pods (tests/pods/test_rollover_step.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.controlplane.conftest import (
    OPERATOR_ACCOUNT,
    WAIT,
    RunOperator,
    sentinel_kill_switch,
    sentinel_probe,
)
from tests.controlplane.stacks import Stacks, operator_writes
from tests.controlplane.test_operator import STACK, settle, wait_resyncs
from tests.harness.controlplane import ControlPlane, service_account_user, wait_for
from tests.harness.redis_procs import SentinelCluster
from tradingstack_operator.reconcile import rollover as roll
from tradingstack_operator.reconcile.rollover import Rollover
from tradingstack_operator.reconcile.rotation import CREDENTIALS, workers_rolled
from tradingstack_operator.render.names import redis_users
from tradingstack_operator.rotation import Stamp
from tradingstack_operator.sentinel import PassCredentials
from tradingstack_operator.spec import TradingStackSpec

OLD, NEW = "0123456789abcdef", "fedcba9876543210"
NODE = f"{STACK}-redis-2.{STACK}-redis-headless.desk.svc.cluster.local:6379"


class Redis:
    """What the stack's Redis holds, as the test sets it; the step answers from it."""

    def __init__(self) -> None:
        self.switched = False  # every node takes the new passwords
        self.unreachable: tuple[str, ...] = ()
        self.finished = False  # the step removed the old passwords

    def step(self, _name: str, _namespace: str, _spec: TradingStackSpec,
             children: Sequence[Mapping[str, Any]],
             _credentials: PassCredentials) -> Stamp:  # fmt: skip
        if self.unreachable:
            return OLD, Rollover(False, False, self.unreachable, under_way=True)
        if not self.switched:
            return OLD, Rollover(switched=True, done=True, under_way=False)
        if self.finished:  # the old passwords are gone: nothing left to do
            return NEW, Rollover(switched=True, done=True, under_way=False)
        self.finished = workers_rolled([dict(c) for c in children], redis_users(STACK), NEW)
        return NEW, Rollover(switched=True, done=self.finished, under_way=True)


def deployments_carry(stacks: Stacks, checksum: str) -> bool:
    found = [c for c in stacks.children(STACK) if c["kind"] == "Deployment"]
    annotations = [c["spec"]["template"]["metadata"].get("annotations") or {} for c in found]
    return bool(found) and all(a.get(CREDENTIALS) == checksum for a in annotations)


def rollover_events(stacks: Stacks) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the rollover's Events, in no particular order."""
    return [
        (e["type"], e["reason"], e["message"]) for e in stacks.events(STACK)
        if e["reason"].startswith("PasswordRollover")
    ]  # fmt: skip


def test_the_rollover_is_reported_from_begun_to_finished_and_then_writes_nothing(
    control_plane: ControlPlane, namespace: str, run_operator: RunOperator,
    sentinel_cluster: SentinelCluster,
) -> None:  # fmt: skip
    redis = Redis()
    stacks = Stacks(control_plane, namespace)
    run_operator(probe=sentinel_probe(sentinel_cluster), roll_passwords=redis.step,
                 kill_switch=sentinel_kill_switch(sentinel_cluster))  # fmt: skip
    stacks.create(STACK)
    settle(stacks, namespace)
    assert roll.TYPE not in stacks.conditions(STACK)  # no rollover, no condition
    assert rollover_events(stacks) == []
    assert deployments_carry(stacks, OLD)

    # A Secret changed while a Redis pod is unreachable: stuck, and said why.
    redis.unreachable = (NODE,)
    stuck = stacks.wait_condition(STACK, roll.TYPE, "False", reason=roll.STUCK, timeout=WAIT)
    assert NODE in stuck["message"]
    assert deployments_carry(stacks, OLD)  # no worker rolls before Redis takes the password

    # The pod back: Redis takes the new passwords, the workers roll, the rollover finishes.
    redis.unreachable = ()
    redis.switched = True
    finished = stacks.wait_condition(STACK, roll.TYPE, "True", reason=roll.FINISHED,
                                     timeout=WAIT)  # fmt: skip
    assert "old ones are refused" in finished["message"]
    assert deployments_carry(stacks, NEW)
    assert workers_rolled(stacks.children(STACK), redis_users(STACK), NEW)

    # One Event per step (their order is the unit tests'; the server lists them by name).
    wanted = sorted([("Normal", roll.BEGUN), ("Warning", roll.STUCK), ("Normal", roll.SWITCHED),
                     ("Normal", roll.FINISHED)])  # fmt: skip
    wait_for(
        lambda: sorted(e[:2] for e in rollover_events(stacks)) == wanted, WAIT,
        "one Event per step of the rollover", last=lambda: rollover_events(stacks),
    )  # fmt: skip
    switched = next(e for e in rollover_events(stacks) if e[1] == roll.SWITCHED)
    assert "waiting for the workers to roll" in switched[2]

    # Settled again: the condition stays, a resync writes nothing.
    user = service_account_user(namespace, OPERATOR_ACCOUNT)
    mark = control_plane.audit_barrier()
    wait_resyncs(control_plane, mark, user)
    assert operator_writes(control_plane, mark, user) == []
    assert stacks.conditions(STACK)[roll.TYPE] == finished
