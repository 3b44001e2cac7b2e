"""Fixtures of the control-plane tier: a real Kubernetes control plane, and the operator
running against it as a ServiceAccount bound to exactly the chart's RBAC."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kopf
import kubernetes
import pytest

from tests.harness.controlplane import ControlPlane, binaries
from tests.harness.kopf_runner import OperatorThread
from tests.harness.redis_procs import SentinelCluster
from tradingstack_operator import rbac
from tradingstack_operator.config import OperatorConfig, tune
from tradingstack_operator.handlers import build_registry
from tradingstack_operator.kube import Kube
from tradingstack_operator.reconcile.shell import MasterProbe, Reconciler
from tradingstack_operator.render import render_children

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "tradingstack.io_tradingstacks.yaml"
OPERATOR_ACCOUNT = "tradingstack-operator"
#: Generous: pods become Ready through kwok, the scheduler and the controllers, on a
#: machine shared with other test runs (two cores, load averages of 10 seen).
WAIT = 300.0


def monitoring_crds() -> list[Path]:
    folder = Path(binaries()["TS_CP_MONITORING_CRDS"])
    wanted = ("servicemonitors", "podmonitors", "prometheusrules")
    return [p for p in sorted(folder.glob("*.yaml")) if p.stem.split("_")[-1] in wanted]


def start_control_plane(root: Path, *, monitoring: bool = True) -> ControlPlane:
    plane = ControlPlane(root).start()
    plane.install_crds([CRD_FILE, *(monitoring_crds() if monitoring else [])])
    return plane


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """Kubernetes 1.37 (etcd, apiserver, controller-manager, scheduler, kwok with three
    fake nodes), with the TradingStack and prometheus-operator CRDs installed."""
    plane = start_control_plane(tmp_path_factory.mktemp("control-plane"))
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def oldest_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """The oldest kube-apiserver the module proxy serves (1.34), with etcd only."""
    plane = ControlPlane(tmp_path_factory.mktemp("oldest"), version="oldest", full=False)
    plane.start()
    plane.install_crds([CRD_FILE])
    yield plane
    plane.stop()


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A namespace of the test's own; deleted after it, so its pods leave the fake nodes."""
    name = control_plane.create_namespace()
    yield name
    control_plane.rest("DELETE", f"/api/v1/namespaces/{name}")


def sentinel_probe(cluster: SentinelCluster) -> MasterProbe:
    """The operator's master probe, pointed at real redis-sentinel processes.

    kwok's pods run nothing, so the Redis pods' sentinels do not exist: the seam of the
    reconciler (``probe_master``) asks a real Sentinel cluster on loopback instead.
    """

    def probe(*_: Any) -> str | None:
        try:
            return f"127.0.0.1:{cluster.master_port()}"
        except RuntimeError:  # no sentinel answers, as the real probe reports it
            return None

    return probe


def operator_settings(config: OperatorConfig) -> kopf.OperatorSettings:
    """Production settings (``tune``), with quick retries for a test."""
    settings = kopf.OperatorSettings()
    tune(settings, config)
    settings.networking.error_backoffs = [0.5, 1, 2]
    settings.watching.reconnect_backoff = 0.5
    return settings


RunOperator = Callable[..., OperatorThread]


@pytest.fixture
def run_operator(
    control_plane: ControlPlane,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[RunOperator]:
    """Start the real kopf operator, in a thread, as a ServiceAccount of ``namespace`` bound
    to the rules of :mod:`tradingstack_operator.rbac` (or to ``rules`` when given)."""
    caplog.set_level(logging.INFO, logger="kopf")
    started: list[OperatorThread] = []
    clients: list[Any] = []

    def run(
        probe: MasterProbe | None = None,
        rules: list[dict[str, Any]] | None = None,
        resync_seconds: float = 2.0,
    ) -> OperatorThread:
        config_file = control_plane.service_account_kubeconfig(
            namespace, OPERATOR_ACCOUNT, rules or rbac.namespaced_rules(peering=False)
        )
        # kopf logs in with the kubernetes client's default configuration.
        monkeypatch.setenv("KUBECONFIG", str(config_file))
        monkeypatch.setattr(
            kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(config_file)
        )
        config = OperatorConfig(resync_seconds=resync_seconds, namespaces=namespace)
        client = control_plane.client(config_file)
        clients.append(client)

        def make(cfg: OperatorConfig) -> Reconciler:
            kube = Kube(client, timeout=cfg.request_timeout_seconds)
            return Reconciler(
                kube=kube,
                render=render_children,
                probe_master=probe or (lambda *_: None),
            )

        operator = OperatorThread(
            build_registry(config, make), [namespace], operator_settings(config)
        )
        started.append(operator.run())
        return operator

    yield run
    for operator in started:
        operator.halt()
    for client in clients:
        client.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test's report carries the tail of every control-plane process's log."""
    report = yield
    plane = getattr(item, "funcargs", {}).get("control_plane")
    if report.failed and isinstance(plane, ControlPlane):
        for name, tail in plane.logs():
            report.sections.append((f"control plane: {name}", tail))
    return report
