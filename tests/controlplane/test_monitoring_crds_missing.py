"""A cluster without the prometheus-operator: everything else is applied, the stack is
Ready, and the missing CRDs are their own condition and one Warning Event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from tests.controlplane.conftest import (
    OPERATOR_ACCOUNT,
    WAIT,
    operator_settings,
    sentinel_probe,
    start_control_plane,
)
from tests.controlplane.stacks import Stacks, operator_writes, stack_reads, workloads_available
from tests.harness.controlplane import ControlPlane, service_account_user, wait_for
from tests.harness.kopf_runner import OperatorThread
from tests.harness.redis_procs import SentinelCluster
from tradingstack_operator import rbac
from tradingstack_operator.config import OperatorConfig
from tradingstack_operator.handlers import build_registry
from tradingstack_operator.kube import Kube
from tradingstack_operator.reconcile.shell import Reconciler
from tradingstack_operator.render import render_children

STACK = "paper"


@pytest.fixture(scope="module")
def bare_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A control plane of its own: only the TradingStack CRD is installed."""
    plane = start_control_plane(tmp_path_factory.mktemp("bare"), monitoring=False)
    yield plane
    plane.stop()


def test_missing_monitoring_crds_leave_the_stack_ready_with_their_own_condition(
    bare_plane: ControlPlane,
    sentinel_cluster: SentinelCluster,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    namespace = bare_plane.create_namespace()
    config_file = bare_plane.service_account_kubeconfig(
        namespace, OPERATOR_ACCOUNT, rbac.namespaced_rules(peering=False)
    )
    monkeypatch.setenv("KUBECONFIG", str(config_file))
    monkeypatch.setattr(
        kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(config_file)
    )
    config = OperatorConfig(resync_seconds=2.0, namespaces=namespace)
    client = bare_plane.client(config_file)
    probe = sentinel_probe(sentinel_cluster)

    def make(cfg: OperatorConfig) -> Reconciler:
        return Reconciler(Kube(client), render=render_children, probe_master=probe)

    operator = OperatorThread(build_registry(config, make), [namespace], operator_settings(config))
    operator.run()
    try:
        stacks = Stacks(bare_plane, namespace)
        stacks.create(STACK)
        stacks.wait_condition(STACK, "Ready", timeout=WAIT)
        stacks.wait_finalizer(STACK, WAIT)
        assert workloads_available(stacks.children(STACK))
        monitoring = stacks.conditions(STACK)["MonitoringAvailable"]
        assert (monitoring["status"], monitoring["reason"]) == ("False", "CRDNotInstalled")
        assert "servicemonitors.monitoring.coreos.com" in monitoring["message"]
        assert "prometheusrules.monitoring.coreos.com" in monitoring["message"]
        assert stacks.conditions(STACK)["Degraded"]["status"] == "False"

        def warned() -> list[dict[str, object]]:
            return [e for e in stacks.events(STACK) if e["reason"] == "CRDNotInstalled"]

        (event,) = wait_for(warned, WAIT, "a CRDNotInstalled Event")
        assert event["type"] == "Warning"
        # Resyncs do not keep trying the kinds the server does not serve.
        user = service_account_user(namespace, OPERATOR_ACCOUNT)
        mark = bare_plane.audit_mark()
        wait_for(lambda: stack_reads(bare_plane, mark, user, STACK) >= 3, WAIT, "3 resyncs")
        assert operator_writes(bare_plane, mark, user) == []
        assert len(warned()) == 1
    finally:
        operator.halt()
        client.close()
