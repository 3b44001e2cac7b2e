"""`tradingstack operator` as a real process (kopf.run) against the real control plane,
with the token of a ServiceAccount bound to exactly the chart's RBAC.

The process runs outside the cluster, where the Redis pods' DNS names do not resolve, so
its Sentinel probe is off (TS_OPERATOR_PROBE_SENTINEL=false): Redis readiness is the
pods' own, and nothing is looked up beyond loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from tests.controlplane.conftest import OPERATOR_ACCOUNT, WAIT
from tests.controlplane.stacks import Stacks, unavailable
from tests.harness.controlplane import ControlPlane, wait_for
from tests.harness.processes import ROOT
from tradingstack_operator import rbac

IMAGE = "registry.test/tradingstack:candidate"


class OperatorProcess(subprocess.Popen[bytes]):
    """``tradingstack operator`` as a process, its output in a temporary file.

    Never a pipe read only at the end: at DEBUG, or with a loaded machine's retries, the
    operator fills a pipe's 64 KiB long before a test reads it, its next log write blocks,
    and with it every reconcile (a stack then never becomes Ready).
    """

    def __init__(self, args: list[str], **kwargs: Any) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (open for the process's life)
        self.started = time.monotonic()
        super().__init__(args, stdout=self.log, stderr=subprocess.STDOUT, **kwargs)

    def output(self) -> str:
        """Everything the process wrote so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self, grace: float) -> int:
        """SIGTERM, and the exit code once the process has exited (at once if it already
        had). One still running ``grace`` seconds later is killed (SIGKILL), and then the
        wait's TimeoutExpired propagates: an operator that ignores SIGTERM fails the test."""
        if self.poll() is None:
            self.send_signal(signal.SIGTERM)
            try:
                self.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
                self.wait()
                raise
        return self.returncode


def start_operator(plane: ControlPlane, namespace: str, **overrides: str) -> OperatorProcess:
    """``tradingstack operator`` watching ``namespace`` as the ServiceAccount bound to the
    chart's namespaced RBAC: no health port, a resync every 2 s, :data:`IMAGE`, and no
    Sentinel probe (see the module's docstring); ``overrides`` (TS_OPERATOR_* variables)
    add to these or replace them."""
    config_file = plane.service_account_kubeconfig(
        namespace, OPERATOR_ACCOUNT, rbac.namespaced_rules(peering=False)
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    environ |= {
        "KUBECONFIG": str(config_file),
        "PYTHONPATH": str(ROOT),
        "TS_OPERATOR_NAMESPACES": namespace,
        "TS_OPERATOR_HEALTH_PORT": "0",
        "TS_OPERATOR_RESYNC_SECONDS": "2",
        "TS_OPERATOR_IMAGE": IMAGE,
        "TS_OPERATOR_PROBE_SENTINEL": "false",
        **overrides,
    }
    return OperatorProcess(
        [sys.executable, "-m", "tradingstack_workers.cli", "operator"],
        cwd=ROOT,
        env=environ,
        start_new_session=True,
    )


def test_the_operator_command_reconciles_until_ready_and_stops_cleanly(
    control_plane: ControlPlane, namespace: str
) -> None:
    process = start_operator(control_plane, namespace)
    stacks = Stacks(control_plane, namespace)
    try:
        stacks.create("paper")
        wait_for(
            lambda: stacks.children("paper") and not unavailable(stacks.children("paper")),
            WAIT,
            "every workload available",
            last=lambda: unavailable(stacks.children("paper")),
        )
        stacks.wait_condition("paper", "Ready", timeout=WAIT)
        assert "master not probed" in stacks.conditions("paper")["RedisReady"]["message"]
        gate = control_plane.rest(
            "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/paper-gate"
        )
        assert gate["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE
    finally:
        code = process.stop(WAIT)
    output = process.output()
    assert code == 0, output[-3000:]
