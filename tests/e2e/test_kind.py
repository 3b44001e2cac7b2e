"""The product on a real cluster (kind): the scenario of .github/workflows/ci.yaml, job kind.

helm install --wait of the chart with the freshly built image; the example stack;
kubectl wait --for=condition=Ready; delete the Redis master pod; Ready again under a new
master; the bots kept trading (intel's processed count grows after the failover).

Needs a kind cluster with the image loaded and the prometheus-operator CRDs installed
(the workflow prepares them) and TS_E2E_KUBECONTEXT naming its context. No Docker engine
runs on the project's own machines, so there it is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.harness.tools import CHART, ROOT

from tradingstack_operator.render import names
from tradingstack_workers.intel.metrics import PROCESSED

CONTEXT = os.environ.get("TS_E2E_KUBECONTEXT", "")
NAMESPACE = "tradingstack"
STACK = "paper"


def _docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not CONTEXT or shutil.which("kind") is None or not _docker_engine(),
    reason="the kind tier needs a Docker engine, kind and TS_E2E_KUBECONTEXT (a kind cluster's "
    "context); none runs on the project's machines: .github/workflows/ci.yaml runs it",
)


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found is not None, f"{name} is not on PATH"
    return found


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("kubectl"), "--context", CONTEXT, "-n", NAMESPACE, *args],
        capture_output=True, text=True, timeout=900, check=check,
    )  # fmt: skip


def wait_until(what: str, condition: Callable[[], bool], deadline_s: float) -> None:
    """Poll a condition with a generous deadline (never a fixed sleep for an outcome)."""
    give_up = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < give_up, f"gave up waiting for {what}"
        time.sleep(2)


def stack() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(kubectl("get", "ts", STACK, "-o", "json").stdout)
    return found


def ready(body: dict[str, Any]) -> bool:
    conditions = body.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def processed() -> float:
    """intel's p35_processed_total, through the API server's service proxy."""
    service = names.worker(STACK, "intel")
    raw = kubectl(
        "get", "--raw",
        f"/api/v1/namespaces/{NAMESPACE}/services/{service}:{names.HTTP_PORT}/proxy/metrics",
        check=False,
    )  # fmt: skip
    for line in raw.stdout.splitlines():
        if line.startswith(f"{PROCESSED}_total "):
            return float(line.split()[1])
    return -1.0


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    image = {"repository": os.environ["TS_E2E_IMAGE_REPOSITORY"],
             "tag": os.environ["TS_E2E_IMAGE_TAG"]}  # fmt: skip
    subprocess.run(
        [_tool("helm"), "--kube-context", CONTEXT, "install", "tradingstack", str(CHART),
         "--namespace", NAMESPACE, "--create-namespace", "--wait", "--timeout", "10m",
         "--set", f"image.repository={image['repository']}",
         "--set", f"image.tag={image['tag']}",
         "--set", "metrics.serviceMonitor.enabled=true"],
        check=True, timeout=900,
    )  # fmt: skip
    yield
    kubectl("delete", "ts", STACK, "--wait=true", "--timeout=5m", check=False)
    subprocess.run([_tool("helm"), "--kube-context", CONTEXT, "uninstall", "tradingstack",
                    "--namespace", NAMESPACE, "--wait"], check=False, timeout=600)  # fmt: skip


def test_the_example_survives_losing_its_redis_master(installed: None) -> None:
    kubectl("apply", "-f", str(ROOT / "examples" / "paper.yaml"))
    kubectl("wait", "--for=condition=Ready", f"ts/{STACK}", "--timeout=15m")
    master = stack()["status"]["redisMaster"]
    assert master, "Ready without a master"
    wait_until("intel counting results", lambda: processed() > 0, 600)
    pod = master.split(".")[0]
    kubectl("delete", "pod", pod, "--wait=false")
    wait_until(
        "Ready under a new master",
        lambda: (
            (body := stack())["status"].get("redisMaster") not in (None, master) and ready(body)
        ),
        600,
    )
    after_failover = processed()
    wait_until("intel's processed count growing again", lambda: processed() > after_failover, 600)
