"""A real gate worker in the test's process, on a real redis-server, stepped by the test."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry

from tests.conftest import TEST_PASSWORD
from tests.harness.redis_procs import RedisProcess
from tradingstack_workers.gate.settings import GateSettings
from tradingstack_workers.gate.worker import GateWorker
from tradingstack_workers.runtime.loop import build_context
from tradingstack_workers.runtime.metrics import RuntimeMetrics
from tradingstack_workers.runtime.settings import load_settings


def gate_in_process(redis_proc: RedisProcess, **env: str) -> GateWorker:
    """Instance ``gate-a``, the snapshot index read once an hour, the book stale after
    10 minutes; ``env`` adds or overrides settings. Warmed up, never stepped."""
    environ = {"TS_REDIS_URL": f"redis://127.0.0.1:{redis_proc.port}/0",
               "TS_REDIS_PASSWORD": TEST_PASSWORD, "TS_INSTANCE": "gate-a",
               "TS_SNAPSHOT_RESCAN_SECONDS": "3600", "TS_PORTFOLIO_STALE_SECONDS": "600",
               **env}  # fmt: skip
    registry = CollectorRegistry()
    ctx = build_context(load_settings(GateSettings, environ), registry,
                        RuntimeMetrics.create(registry, "gate"), threading.Event())  # fmt: skip
    worker = GateWorker(ctx)
    worker.warm_up()
    return worker
