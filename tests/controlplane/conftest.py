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
import redis
from redis.sentinel import Sentinel

from tests.harness.controlplane import ControlPlane
from tests.harness.kopf_runner import OperatorThread
from tests.harness.redis_procs import SentinelCluster
from tests.harness.tools import monitoring_crd_files
from tradingstack_operator import rbac
from tradingstack_operator.children import Indexed
from tradingstack_operator.config import OperatorConfig, tune
from tradingstack_operator.handlers import build_registry
from tradingstack_operator.killswitch import kill_switch_on
from tradingstack_operator.kube import Kube
from tradingstack_operator.reconcile.killswitch import WriteKillSwitch, not_written
from tradingstack_operator.reconcile.shell import MasterProbe, Reconciler
from tradingstack_operator.render import render_children
from tradingstack_operator.rotation import RollPasswords
from tradingstack_operator.sentinel import RedisView
from tradingstack_operator.spec import API_VERSION, PLURAL

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "tradingstack.io_tradingstacks.yaml"
OPERATOR_ACCOUNT = "tradingstack-operator"
#: Generous: pods become Ready through kwok, the scheduler and the controllers, on a
#: machine shared with other test runs (two cores, load averages of 10 seen).
WAIT = 300.0


def start_control_plane(root: Path, *, monitoring: bool = True) -> ControlPlane:
    plane = ControlPlane(root).start()
    try:
        plane.install_crds([CRD_FILE, *(monitoring_crd_files() if monitoring else [])])
    except BaseException:  # the fixture never yields: nobody else would stop it
        plane.stop()
        raise
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
    """A namespace of the test's own; deleted after it, so its pods leave the fake nodes.

    The operator is stopped by then, so nobody would release kopf's finalizer on a stack
    left in it: the namespace would stay Terminating for good. The finalizers go first.
    """
    name = control_plane.create_namespace()
    yield name
    stacks = f"/apis/{API_VERSION}/namespaces/{name}/{PLURAL}"
    for stack in control_plane.rest("GET", stacks)["items"]:
        control_plane.rest(
            "PATCH",
            f"{stacks}/{stack['metadata']['name']}",
            {"metadata": {"finalizers": None}},
            content_type="application/merge-patch+json",
        )
    control_plane.rest("DELETE", f"/api/v1/namespaces/{name}")


def sentinel_probe(cluster: SentinelCluster) -> MasterProbe:
    """The operator's master probe, pointed at real redis-sentinel processes.

    kwok's pods run nothing, so the Redis pods' sentinels do not exist: the seam of the
    reconciler (``probe_master``) asks a real Sentinel cluster on loopback instead.
    """

    def probe(*_: Any) -> RedisView:
        try:
            return RedisView(master=f"127.0.0.1:{cluster.master_port()}")
        except RuntimeError:  # no sentinel answers, as the real probe reports it
            return RedisView()

    return probe


def sentinel_kill_switch(cluster: SentinelCluster) -> WriteKillSwitch:
    """The operator's kill switch writer (the production one), through real redis-sentinel
    processes on loopback: kwok's pods run no Redis, as for :func:`sentinel_probe`."""

    def connect(*_: Any) -> redis.Redis:
        sentinel = Sentinel(
            [("127.0.0.1", s.port) for s in cluster.sentinels],
            sentinel_kwargs={"password": cluster.password, "socket_timeout": 1.0},
        )
        client: redis.Redis = sentinel.master_for(
            cluster.master_name, password=cluster.password, socket_timeout=1.0,
            decode_responses=True,
        )  # fmt: skip
        return client

    return kill_switch_on(connect)


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
        kill_switch: WriteKillSwitch = not_written,
        roll_passwords: RollPasswords | None = None,
        *,
        reconciler: Callable[[Kube, OperatorConfig], Reconciler] | None = None,
        max_workers: int | None = None,
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
        if max_workers is not None:  # kopf's handler threads: passes at once
            config = config.model_copy(update={"max_workers": max_workers})
        client = control_plane.client(config_file)
        clients.append(client)

        def make(cfg: OperatorConfig) -> Reconciler:
            kube = Kube(client, timeout=cfg.request_timeout_seconds)
            if reconciler is not None:  # the given one, e.g. the production reconciler
                return reconciler(kube, cfg)
            return Reconciler(
                kube=kube,
                render=render_children,
                probe_master=probe or (lambda *_: RedisView()),
                kill_switch=kill_switch,
                children=Indexed(kube, {}),  # kopf's watch indexes, as in production
                roll_passwords=roll_passwords,
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test here waits on several steps of WAIT each: its own limit is their sum."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.timeout(4 * WAIT))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test's report carries the tail of every control-plane process's log."""
    report = yield
    plane = getattr(item, "funcargs", {}).get("control_plane")
    if report.failed and isinstance(plane, ControlPlane):
        for name, tail in plane.logs():
            report.sections.append((f"control plane: {name}", tail))
    return report
