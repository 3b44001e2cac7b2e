"""The production reconciler's Redis steps read the stack's admin Secret once per pass.

The kill switch, the password rollover and the master probe each log in to the stack's
Redis as its admin. They run on every pass once a Redis pod is ready, and each read the
admin Secret itself: three GETs per pass and stack. Here the operator runs its production
steps (``production_reconciler``) as its ServiceAccount against the real control plane;
kwok's pods run no Redis, and their DNS names do not resolve here, so every step fails to
connect after it read what it needs. The API server's audit log counts the reads.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.controlplane.conftest import OPERATOR_ACCOUNT, WAIT, RunOperator
from tests.controlplane.stacks import Stacks
from tests.controlplane.test_operator import STACK
from tests.harness.controlplane import ControlPlane, service_account_user, wait_for
from tradingstack_operator.handlers import production_reconciler
from tradingstack_operator.render.names import redis_auth, redis_users
from tradingstack_operator.spec import PLURAL

#: The pods' DNS names (``<pod>.<service>.<namespace>.svc.cluster.local``): no cluster DNS
#: answers for them here, and none is asked.
POD_DOMAIN = ".svc.cluster.local"


@pytest.fixture
def pod_names_unresolved(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's pod names fail to resolve at once, as out of cluster (without asking
    the machine's resolver); every other name resolves as before."""
    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(POD_DOMAIN):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def redis_ready(stacks: Stacks) -> bool:
    return any(
        c["kind"] == "StatefulSet" and (c.get("status") or {}).get("readyReplicas")
        for c in stacks.children(STACK)
    )


def secret_reads_per_pass(plane: ControlPlane, since: int, user: str) -> list[dict[str, int]]:
    """For each whole pass after ``since`` (from one read of the stack to the next), how
    many times each Secret was read."""
    passes: list[dict[str, int]] = []
    current: dict[str, int] | None = None
    for event in plane.audit_events(since, user):
        ref = event.get("objectRef") or {}
        if event["verb"] != "get" or ref.get("subresource"):
            continue
        if ref.get("resource") == PLURAL and ref.get("name") == STACK:
            if current is not None:
                passes.append(current)
            current = {}  # a pass begins with its read of the stack
        elif ref.get("resource") == "secrets" and current is not None:
            current[ref["name"]] = current.get(ref["name"], 0) + 1
    return passes  # the last pass may still be running: left out


def test_each_pass_reads_the_admin_secret_once_for_all_its_redis_steps(
    control_plane: ControlPlane, namespace: str, run_operator: RunOperator,
    pod_names_unresolved: None,
) -> None:  # fmt: skip
    run_operator(reconciler=production_reconciler)  # Sentinel probed: the default
    stacks = Stacks(control_plane, namespace)
    stacks.create(STACK)
    wait_for(lambda: redis_ready(stacks), WAIT, "a Redis pod ready: the steps log in")
    user = service_account_user(namespace, OPERATOR_ACCOUNT)
    mark = control_plane.audit_barrier()
    wait_for(lambda: len(secret_reads_per_pass(control_plane, mark, user)) >= 3, WAIT,
             "three whole passes with Redis up")  # fmt: skip
    control_plane.audit_barrier()
    passes = secret_reads_per_pass(control_plane, mark, user)
    # The kill switch, the rollover and the probe log in with one read of the admin Secret;
    # the rollover also reads the users' Secret, once.
    wanted = {redis_auth(STACK): 1, redis_users(STACK): 1}
    assert passes == [wanted] * len(passes), passes
