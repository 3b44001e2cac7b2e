"""The operator killed in mid-reconcile and started again (issue #17, control-plane tier).

`tradingstack operator` runs as a real process against the real control plane; it is
killed with SIGKILL as soon as the first children of a new stack exist, before it could
finish, and a new process takes over. The stack must then become Ready with exactly the
rendered children and the generated Secrets, once each, and every generated Secret (the
Redis password, the ACL users' passwords) that existed at the kill must be unchanged (a
second password would lock every client out). The time from the new process's start to
Ready is a figure (``.reliability/chaos.jsonl``), never asserted.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from contextlib import suppress

from kubernetes.client.exceptions import ApiException

from tests.controlplane.conftest import WAIT
from tests.controlplane.stacks import SPEC, Stacks, unavailable
from tests.controlplane.test_operator_process import IMAGE, OperatorProcess, start_operator
from tests.harness.controlplane import ControlPlane, wait_for
from tests.harness.reliability import record
from tradingstack_operator.render import names, render_children
from tradingstack_operator.render.redis_auth import generated_secrets
from tradingstack_operator.render.stack import Options
from tradingstack_operator.spec import TradingStackSpec


def secret(plane: ControlPlane, path: str) -> dict[str, str] | None:
    """The Secret's data (base64 values), or None while it does not exist."""
    try:
        return dict(plane.rest("GET", path)["data"])
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def stop(process: OperatorProcess) -> None:
    """Stopped, however it takes SIGTERM: how the operator stops is not what this test
    checks (test_operator_process does)."""
    with suppress(subprocess.TimeoutExpired):
        process.stop(WAIT)


def test_an_operator_killed_in_mid_reconcile_is_replaced_without_a_trace(
    control_plane: ControlPlane, namespace: str
) -> None:
    stacks = Stacks(control_plane, namespace)
    spec = TradingStackSpec.model_validate(SPEC)
    base = f"/api/v1/namespaces/{namespace}/secrets"
    secret_path = f"{base}/{names.redis_auth('paper')}"
    first = start_operator(control_plane, namespace)
    try:
        stacks.create("paper")
        # The generated Secret is the first child written: one cheap read, polled tightly.
        wait_for(lambda: secret(control_plane, secret_path), WAIT, "the first child")
        first.kill()  # SIGKILL: no handler runs, whatever was in flight stays half done
        first.wait()
    finally:
        stop(first)
    at_kill = len(stacks.children("paper"))
    # The generated Secrets (admin password, ACL users) that exist at the kill.
    generated = [f"{base}/{g.name}" for g in generated_secrets("paper", spec)]
    passwords = {path: secret(control_plane, path) for path in generated}
    assert passwords[secret_path] is not None
    second = start_operator(control_plane, namespace)
    try:
        stacks.wait_condition("paper", "Ready", timeout=WAIT)
        ready_after = time.monotonic() - second.started
        wait_for(lambda: not unavailable(stacks.children("paper")), WAIT, "workloads available")
        children = stacks.children("paper")
    finally:
        stop(second)
    rendered = render_children("paper", namespace, spec, Options(image=IMAGE))
    want = Counter((m["kind"], m["metadata"]["name"]) for m in rendered)
    for made in generated_secrets("paper", spec):  # generated, never rendered
        want[("Secret", made.name)] += 1
    have = Counter((c["kind"], c["metadata"]["name"]) for c in children)
    assert have == want, (have - want, want - have)
    # A Secret written before the kill is never rewritten (it would lock clients out).
    for path, before in passwords.items():
        assert before is None or secret(control_plane, path) == before, path
    record("chaos", {
        "scenario": "kill -9 operator in mid-reconcile (control plane)",
        "kind": "operator", "action": "kill9", "target": "tradingstack operator",
        "mid_batch": at_kill < len(want), "children_at_kill": at_kill,
        "children_wanted": sum(want.values()), "recovered": True,
        "recovery_s": round(ready_after, 3), "lost": sum((want - have).values()),
        "doubled": sum((have - want).values()), "restarts": ["tradingstack operator"],
    })  # fmt: skip
