"""Every metric that the alert rules and dashboards name is one the workers export.

The stack in data/live.yaml runs with ``tradingstack up`` (real redis-server, every
worker kind and a bot as real processes); each process's live /metrics is read and
parsed. ``up`` is one exception: Prometheus writes it for every target it scrapes; the
Redis pods' redis_exporter metrics are the other (its image does not run here).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.chart.promql import every_expression, metric_names
from tests.harness.redis_procs import wait_for
from tests.harness.up_process import UpProcess
from tradingstack_operator.render.alerts import EXPORTER_METRICS

pytestmark = pytest.mark.integration

MANIFEST = Path(__file__).parent / "data" / "live.yaml"
PROMETHEUS_OWN = {"up"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
            "summary": ("_sum", "_count", ""), "gauge": ("",), "info": ("_info",),
            "unknown": ("",)}  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    up = UpProcess(MANIFEST, tmp_path_factory.mktemp("live") / "data")
    try:
        wait_for(lambda: bool(up.of("all_healthy")), 120, "all_healthy")
        yield up
    finally:
        up.stop()


def exported(text: str) -> set[str]:
    """Series names as Prometheus stores them, from the families' HELP/TYPE too (a
    labelled metric that has no child yet still declares its name)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + s for s in SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


def test_every_metric_in_rules_and_dashboards_is_exported(stack: UpProcess) -> None:
    ports = stack.ports()
    for component in ("clusters", "gate", "governor", "intel", "bot-breakout"):
        assert any(i.startswith(f"live-{component}") for i in ports), (component, ports)
    names: set[str] = set()
    for port in ports.values():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            names |= exported(response.read().decode())
    wanted = set().union(*(metric_names(e) for e in every_expression()))
    assert len(wanted) > 40
    assert wanted - names - PROMETHEUS_OWN - EXPORTER_METRICS == set()
