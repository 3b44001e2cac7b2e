"""`tradingstack operator` as a real process (kopf.run) against the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.processes import ROOT
from tests.operator.emulator import Emulator
from tests.operator.runner import eventually
from tests.operator.stack_helpers import (
    condition,
    create_stack,
    expected_children,
    find,
    live,
)

pytestmark = pytest.mark.asyncio

IMAGE = "registry.test/tradingstack:candidate"


def operator_process(kubeconfig: Path, **env: str) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    environ |= {"KUBECONFIG": str(kubeconfig), "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen(
        [sys.executable, "-m", "tradingstack_workers.cli", "operator"],
        cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


async def test_the_operator_command_reconciles_and_stops_cleanly(
    emulator: Emulator, namespace: str, kubeconfig: Path
) -> None:
    process = operator_process(
        kubeconfig,
        TS_OPERATOR_NAMESPACES=namespace,
        TS_OPERATOR_HEALTH_PORT="0",
        TS_OPERATOR_RESYNC_SECONDS="1",
        TS_OPERATOR_IMAGE=IMAGE,
    )
    try:
        await create_stack(emulator, namespace)
        await eventually(
            lambda: all(live(emulator, m, namespace) for m in expected_children(namespace)), 60
        )
        # No pods run here, so the stack reports itself not ready, with the reason.
        await eventually(
            lambda: condition(emulator, namespace, "Ready").get("status") == "False", 60
        )
        assert condition(emulator, namespace, "RedisReady")["reason"] == "ReplicasNotReady"
        gate = find(expected_children(namespace), "Deployment", "paper-gate")
        served = live(emulator, gate, namespace) or {}
        assert served["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stdout.read().decode() if process.stdout else ""
    assert code == 0, output[-3000:]


async def test_a_bad_operator_setting_exits_2_naming_it(kubeconfig: Path) -> None:
    process = operator_process(kubeconfig, TS_OPERATOR_RESYNC_SECONDS="-5")
    code = await asyncio.to_thread(process.wait, 60)
    output = process.stdout.read().decode() if process.stdout else ""
    assert code == 2
    assert "TS_OPERATOR_RESYNC_SECONDS" in output
    assert "Traceback" not in output
