"""The operator's own /metrics (TS_OPERATOR_METRICS_PORT), scraped from the real process
while it reconciles against the real control plane."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.controlplane.conftest import WAIT
from tests.controlplane.stacks import Stacks
from tests.controlplane.test_operator_process import start_operator
from tests.harness.controlplane import ControlPlane, wait_for
from tests.harness.redis_procs import free_port
from tradingstack_operator.metrics import EXPORTED, RECONCILES

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(port: int) -> Samples:
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


def test_the_operator_counts_its_reconciliations(
    control_plane: ControlPlane, namespace: str
) -> None:
    port = free_port()
    process = start_operator(
        control_plane,
        namespace,
        TS_OPERATOR_METRICS_PORT=str(port),
        TS_OPERATOR_RESYNC_SECONDS="1",
    )
    ok = (f"{RECONCILES}_total", (("result", "ok"),))
    try:
        Stacks(control_plane, namespace).create("paper")
        wait_for(lambda: _samples(port).get(ok, 0) >= 2, WAIT, "two reconciles counted")
        names = {name for name, _ in _samples(port)}
        for exported in EXPORTED:
            assert any(n == exported or n.startswith(f"{exported}_") for n in names), exported
        assert _samples(port)[(f"{RECONCILES}_total", (("result", "error"),))] == 0
    finally:
        process.stop(WAIT)
