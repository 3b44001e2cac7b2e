"""The operator's own /metrics (TS_OPERATOR_METRICS_PORT), scraped from the real process."""

from __future__ import annotations

import asyncio
import signal
import socket
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.kopf_runner import eventually
from tests.operator.emulator import Emulator
from tests.operator.stack_helpers import create_stack
from tests.operator.test_operator_process import operator_process
from tradingstack_operator.metrics import EXPORTED, RECONCILES

pytestmark = pytest.mark.asyncio


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_the_operator_counts_its_reconciliations(
    emulator: Emulator, namespace: str, kubeconfig: Path
) -> None:
    port = _free_port()
    process = operator_process(
        kubeconfig,
        TS_OPERATOR_NAMESPACES=namespace,
        TS_OPERATOR_HEALTH_PORT="0",
        TS_OPERATOR_METRICS_PORT=str(port),
        TS_OPERATOR_RESYNC_SECONDS="1",
    )
    ok = (f"{RECONCILES}_total", (("result", "ok"),))
    try:
        await create_stack(emulator, namespace)
        await eventually(lambda: _samples(port).get(ok, 0) >= 2, 60)
        names = {name for name, _ in _samples(port)}
        for exported in EXPORTED:
            assert any(n == exported or n.startswith(f"{exported}_") for n in names), exported
        assert _samples(port)[(f"{RECONCILES}_total", (("result", "error"),))] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
