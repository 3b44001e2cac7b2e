"""The chart on the real control plane (kube-apiserver, etcd, controllers, kwok).

``helm install --wait`` creates everything as the admin; the operator then runs as a
local process with a token of the chart's own ServiceAccount (so the chart's RBAC is
what the API server enforces) and the environment of the chart's Deployment; it
reconciles the example until every Deployment is Available (kwok makes pods Ready).
``helm uninstall`` then leaves nothing of the chart behind; with the default values it
keeps the CRD and nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from tests.chart.helm import load_all
from tests.harness.controlplane import ControlPlane, kubeconfig, wait_for
from tests.harness.redis_procs import free_port
from tests.harness.tools import CHART, ROOT, monitoring_crd_files, run, tool
from tradingstack_operator.metrics import RECONCILES
from tradingstack_operator.render import render, stack_from_manifest

RELEASE = "ts"
WAIT = 300.0
CRD = "tradingstacks.tradingstack.io"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A control plane of its own: the chart installs the CRD (the shared one has it)."""
    plane = ControlPlane(tmp_path_factory.mktemp("chart-plane")).start()
    try:
        plane.install_crds(monitoring_crd_files())
        yield plane
    finally:
        plane.stop()


CHART_GROUPS = ("tradingstack.io", "kopf.dev")


def _chart_crds(plane: ControlPlane) -> list[str]:
    """Paths of the CRDs that the chart installs (ours and kopf's peering kinds)."""
    items = plane.rest("GET", CRDS)["items"]
    return sorted(f"{CRDS}/{c['metadata']['name']}" for c in items
                  if c["spec"]["group"] in CHART_GROUPS)  # fmt: skip


@pytest.fixture(autouse=True)
def no_chart_crd_left(plane: ControlPlane) -> Iterator[None]:
    """Every test starts on a plane without the chart's CRDs: a CRD is cluster-scoped and
    carries the Helm ownership of the release that made it, so one left by the test
    before (kept by design, or still terminating) would refuse the next install."""
    yield
    for path in _chart_crds(plane):
        try:
            plane.rest("DELETE", path)
        except ApiException as err:
            if err.status != 404:
                raise
    wait_for(lambda: not _chart_crds(plane), WAIT, "the chart's CRDs deleted",
             last=lambda: _chart_crds(plane))  # fmt: skip


def helm(plane: ControlPlane, home: Path, *args: str) -> str:
    result = run([tool("helm"), "--kubeconfig", str(plane.admin_kubeconfig), *args], home, 600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _path(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    if obj["kind"] == "CustomResourceDefinition":
        return f"{CRDS}/{meta['name']}"
    group, _, version = obj["apiVersion"].rpartition("/")
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    cluster_kinds = ("ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering")
    if obj["kind"] not in cluster_kinds:
        base += f"/namespaces/{meta['namespace']}"
    plural = obj["kind"].lower() + "s"  # every kind the chart ships
    return f"{base}/{plural}/{meta['name']}"


def _exists(plane: ControlPlane, path: str) -> bool:
    try:
        plane.rest("GET", path)
    except ApiException as err:
        if err.status == 404:
            return False
        raise
    return True


def _deployments_available(plane: ControlPlane, namespace: str, names: set[str]) -> bool:
    found = plane.rest("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments")["items"]
    available = {
        d["metadata"]["name"] for d in found
        if any(c["type"] == "Available" and c["status"] == "True"
               for c in (d.get("status") or {}).get("conditions", []))
    }  # fmt: skip
    return names <= available


def _operator(plane: ControlPlane, namespace: str, manifests: list[dict[str, Any]],
              root: Path, *, component: str = "operator",
              metrics_port: int | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
    """``tradingstack operator`` as the chart's ServiceAccount, with the env of the chart's
    Deployment of that component (``operator`` or ``operator-standby``)."""
    (deployment,) = [
        m
        for m in manifests
        if m["kind"] == "Deployment"
        and m["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    token = plane.rest(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{pod['serviceAccountName']}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
         "spec": {"expirationSeconds": 3600}},
    )["status"]["token"]  # fmt: skip
    config = kubeconfig(root / f"{component}.kubeconfig", plane.server, token, plane.ca, namespace)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TS_", "KUBE"))}
    env |= {e["name"]: e["value"] for e in container["env"] if "value" in e}
    # Loopback ports of this machine instead of the pod's. Out of the cluster the Redis
    # pods' DNS names do not resolve (and asking would query a resolver beyond loopback):
    # the Sentinel probe is off.
    env |= {"TS_OPERATOR_PROBE_SENTINEL": "false",
            "TS_OPERATOR_HEALTH_PORT": str(free_port()),
            "TS_OPERATOR_METRICS_PORT": str(metrics_port or free_port()),
            "POD_ID": f"{component}-local",
            "TS_OPERATOR_RESYNC_SECONDS": "2", "KUBECONFIG": str(config),
            "PYTHONPATH": str(ROOT)}  # fmt: skip
    assert container["command"][:2] == ["tradingstack", "operator"]
    log = (root / f"{component}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "tradingstack_workers.cli", "operator"], cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_install_reconcile_uninstall_leaves_nothing(plane: ControlPlane, tmp_path: Path) -> None:
    namespace = plane.create_namespace()
    helm(plane, tmp_path, "install", RELEASE, str(CHART), "--namespace", namespace,
         "--set", "crds.keep=false", "--set", "metrics.serviceMonitor.enabled=true",
         "--wait", "--timeout", "5m")  # fmt: skip
    manifests = load_all(helm(plane, tmp_path, "get", "manifest", RELEASE, "-n", namespace))
    assert {m["kind"] for m in manifests} >= {
        "CustomResourceDefinition", "ServiceAccount", "Role", "RoleBinding", "Deployment",
        "Service", "ServiceMonitor",
    }  # fmt: skip
    example = yaml.safe_load((ROOT / "examples" / "paper.yaml").read_text())
    wanted = {
        m["metadata"]["name"]
        for m in render(stack_from_manifest(example, namespace=namespace))
        if m["kind"] == "Deployment"
    }
    operator = _operator(plane, namespace, manifests, tmp_path)
    try:
        plane.apply(example, namespace=namespace)
        wait_for(lambda: _deployments_available(plane, namespace, wanted), WAIT,
                 f"every Deployment of the example Available: {sorted(wanted)}")  # fmt: skip
        stack = f"/apis/tradingstack.io/v1alpha1/namespaces/{namespace}/tradingstacks/paper"
        plane.rest("DELETE", stack)
        # The operator (still running, as the chart's account) lets it go.
        wait_for(lambda: not _exists(plane, stack), WAIT, "the stack deleted")
    finally:
        _stop(operator)
        log = (tmp_path / "operator.log").read_text(errors="replace")  # the active one
    assert "Forbidden" not in log, log[-4000:]
    assert " 403" not in log, log[-4000:]
    helm(plane, tmp_path, "uninstall", RELEASE, "--namespace", namespace, "--wait")
    # Deletion is asynchronous (a CRD waits for its instances): wait for nothing left.
    wait_for(lambda: not [m for m in manifests if _exists(plane, _path(m))], WAIT,
             "every object of the release gone")  # fmt: skip
    secrets = plane.rest("GET", f"/api/v1/namespaces/{namespace}/secrets")["items"]
    assert [
        s["metadata"]["name"] for s in secrets if s["metadata"]["name"].startswith("sh.helm")
    ] == []


def test_default_uninstall_keeps_only_the_crd(plane: ControlPlane, tmp_path: Path) -> None:
    namespace = plane.create_namespace()
    helm(plane, tmp_path, "install", RELEASE, str(CHART), "--namespace", namespace,
         "--set", "standby.enabled=true", "--wait", "--timeout", "5m")  # fmt: skip
    manifests = load_all(helm(plane, tmp_path, "get", "manifest", RELEASE, "-n", namespace))
    assert sum(m["kind"] == "Deployment" for m in manifests) == 2  # active and standby
    crds = sorted(_path(m) for m in manifests if m["kind"] == "CustomResourceDefinition")
    assert len(crds) == 3  # TradingStack and kopf's two peering kinds
    hooks = load_all(helm(plane, tmp_path, "get", "hooks", RELEASE, "-n", namespace))
    (peering,) = hooks
    assert peering["kind"] == "KopfPeering"
    assert _exists(plane, _path(peering)), "created after its CRD, by the post-install hook"
    helm(plane, tmp_path, "uninstall", RELEASE, "--namespace", namespace, "--wait")

    def left() -> list[str]:
        return sorted(_path(m) for m in [*manifests, *hooks] if _exists(plane, _path(m)))

    # The kept CRDs, and the peering object that lives in kopf's kept API.
    wait_for(lambda: left() == sorted([*crds, _path(peering)]), WAIT, "only the CRDs kept")


def test_helm_upgrade_leaves_no_stale_crd(plane: ControlPlane, tmp_path: Path) -> None:
    """Install a chart whose CRD lacks a printer column, upgrade to this chart: the API
    server then holds exactly the CRD of crds/ (Helm's crds/ folder would never upgrade)."""
    old_chart = tmp_path / "old" / "tradingstack"
    shutil.copytree(CHART, old_chart, symlinks=False)
    crd_file = old_chart / "files" / "crds" / "tradingstack.io_tradingstacks.yaml"
    crd = yaml.safe_load(crd_file.read_text())
    columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = columns[:1]
    crd_file.write_text("# an older release\n" + yaml.safe_dump(crd))
    namespace = plane.create_namespace()
    helm(plane, tmp_path, "install", RELEASE, str(old_chart), "--namespace", namespace,
         "--set", "crds.keep=false")  # fmt: skip
    served = plane.rest("GET", f"{CRDS}/{CRD}")
    assert len(served["spec"]["versions"][0]["additionalPrinterColumns"]) == 1
    helm(plane, tmp_path, "upgrade", RELEASE, str(CHART), "--namespace", namespace,
         "--set", "crds.keep=false")  # fmt: skip
    served = plane.rest("GET", f"{CRDS}/{CRD}")
    assert served["spec"]["versions"][0]["additionalPrinterColumns"] == columns
    helm(plane, tmp_path, "uninstall", RELEASE, "--namespace", namespace, "--wait")
    wait_for(lambda: not _exists(plane, f"{CRDS}/{CRD}"), WAIT, "the CRD deleted")


def _reconciles(port: int) -> float:
    """The operator's own count of reconciliations, from its /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return -1.0
    return sum(
        s.value for family in text_string_to_metric_families(text) for s in family.samples
        if s.name == f"{RECONCILES}_total" and s.labels.get("result") == "ok"
    )  # fmt: skip


def test_the_standby_operator_takes_over(plane: ControlPlane, tmp_path: Path) -> None:
    """Both operators of standby.enabled run; only the higher priority one reconciles
    until it stops, then the standby heals a deleted child."""
    namespace = plane.create_namespace()
    helm(plane, tmp_path, "install", RELEASE, str(CHART), "--namespace", namespace,
         "--set", "standby.enabled=true", "--set", "crds.keep=false",
         "--wait", "--timeout", "5m")  # fmt: skip
    manifests = load_all(helm(plane, tmp_path, "get", "manifest", RELEASE, "-n", namespace))
    ports = {"operator": free_port(), "operator-standby": free_port()}
    peering = f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings/tradingstack"

    def peers() -> int:
        return len(plane.rest("GET", peering).get("status") or {})

    example = yaml.safe_load((ROOT / "examples" / "paper.yaml").read_text())
    gate = f"/apis/apps/v1/namespaces/{namespace}/deployments/paper-gate"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        # The active one first, as in a cluster where the standby joins a running peering.
        for count, component in enumerate(ports, start=1):
            processes[component] = _operator(
                plane, namespace, manifests, tmp_path,
                component=component, metrics_port=ports[component],
            )  # fmt: skip

            def joined(count: int = count) -> bool:
                return peers() == count

            wait_for(joined, WAIT, f"{component} in the peering")
        plane.apply(example, namespace=namespace)
        wait_for(lambda: _exists(plane, gate), WAIT, "the active operator applying the stack")
        wait_for(lambda: _reconciles(ports["operator"]) >= 3, WAIT, "a few resyncs")
        assert _reconciles(ports["operator-standby"]) == 0, "the standby must not reconcile"
        _stop(processes["operator"])  # kopf leaves the peering on a clean exit
        plane.rest("DELETE", gate)
        wait_for(lambda: _exists(plane, gate), WAIT, "the standby re-creating the Deployment")
        assert _reconciles(ports["operator-standby"]) > 0
        stack = f"/apis/tradingstack.io/v1alpha1/namespaces/{namespace}/tradingstacks/paper"
        plane.rest("DELETE", stack)
        wait_for(lambda: not _exists(plane, stack), WAIT, "the stack deleted")
    finally:
        for process in processes.values():
            _stop(process)
    helm(plane, tmp_path, "uninstall", RELEASE, "--namespace", namespace, "--wait")
    wait_for(lambda: not _exists(plane, f"{CRDS}/{CRD}"), WAIT, "the CRD deleted")
