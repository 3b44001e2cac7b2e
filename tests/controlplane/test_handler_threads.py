"""Events that need no reconcile pass take none of kopf's handler threads.

A pass runs in one of kopf's ``max_workers`` threads. An event that needs none (our own
status write, kopf's finalizer, a label) must not wait for one: when a stack is created,
our first status write makes kopf's finalizer patch of the same cycle fail (its
resourceVersion test answers 422), and kopf retries it on the stack's next event, our
status write's. At 100 stacks created together that event queued behind every other
stack's first pass, and the finalizer landed about 35 s after the stack was reconciled
(bench.operator_controlplane).
"""

from __future__ import annotations

import threading

import pytest

from tests.controlplane.conftest import WAIT, RunOperator
from tests.controlplane.stacks import Stacks
from tests.controlplane.test_operator import STACK
from tests.harness.controlplane import ControlPlane, wait_for
from tradingstack_operator.children import Indexed
from tradingstack_operator.config import OperatorConfig
from tradingstack_operator.kube import Kube, Manifest
from tradingstack_operator.reconcile.shell import Reconciler
from tradingstack_operator.render import render_children
from tradingstack_operator.spec import TradingStackSpec

#: A stack whose pass holds the operator's only handler thread until the test lets it go.
HOLDER = "holder"


def test_an_event_that_needs_no_pass_is_handled_while_every_handler_thread_is_busy(
    control_plane: ControlPlane, namespace: str, run_operator: RunOperator,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    holding, release = threading.Event(), threading.Event()

    def render(name: str, namespace: str, spec: TradingStackSpec) -> list[Manifest]:
        if name == HOLDER:
            holding.set()
            release.wait(WAIT)
        return render_children(name, namespace, spec)

    def reconciler(kube: Kube, _config: OperatorConfig) -> Reconciler:
        return Reconciler(kube=kube, render=render, children=Indexed(kube, {}))

    run_operator(reconciler=reconciler, max_workers=1, resync_seconds=3600.0)
    stacks = Stacks(control_plane, namespace)
    stacks.create(STACK)
    wait_for(lambda: (stacks.get(STACK).get("status") or {}).get("observedGeneration") == 1,
             WAIT, "the stack reconciled")  # fmt: skip
    stacks.wait_finalizer(STACK, timeout=WAIT)

    def handled() -> int:
        return sum("on_event' succeeded" in r.getMessage() for r in caplog.records)

    stacks.create(HOLDER)
    try:
        wait_for(holding.is_set, WAIT, "the holder's pass in the only handler thread")
        before = handled()
        control_plane.rest("PATCH", stacks.path(STACK),
                           {"metadata": {"labels": {"test.example/poke": "1"}}},
                           content_type="application/merge-patch+json")  # fmt: skip
        # A label leaves the spec as the status observed it: no pass, no thread needed.
        wait_for(lambda: handled() > before, WAIT, "the label's event handled")
    finally:
        release.set()
    wait_for(lambda: (stacks.get(HOLDER).get("status") or {}).get("observedGeneration") == 1,
             WAIT, "the holder reconciled once let go")  # fmt: skip
