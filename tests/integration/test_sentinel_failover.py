"""A runtime Redis client keeps writing through a Sentinel failover, exactly once.

How soon writes resume is a figure (bench/redis_failover, issue 14), not an assertion.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from tests.conftest import TEST_PASSWORD
from tests.harness.processes import DEADLINE
from tests.harness.redis_procs import SentinelCluster, wait_for

from tradingstack_workers.runtime.once import OnceWriter
from tradingstack_workers.runtime.redis_client import RetryPolicy, connect
from tradingstack_workers.runtime.settings import RuntimeSettings, load_settings

pytestmark = pytest.mark.integration

COUNTER = "quantum:test:acked"


class Writer(threading.Thread):
    """Writes INCRs as fast as it can and records when each one was acknowledged."""

    def __init__(self, settings: RuntimeSettings) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        client = connect(settings)
        retry = RetryPolicy(budget_seconds=settings.redis_retry_budget_seconds, stop=self.stop)
        self.once = OnceWriter(client, retry, "quantum", replicas=settings.write_replicas)
        self.acked: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.once.apply(f"writer:{len(self.acked)}", [["INCR", COUNTER]], keys=[COUNTER])
                self.acked.append(time.monotonic())
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def test_writes_resume_after_master_is_killed(sentinel_cluster: SentinelCluster) -> None:
    settings = load_settings(
        RuntimeSettings,
        {
            "TS_REDIS_SENTINELS": sentinel_cluster.sentinel_addresses,
            "TS_REDIS_PASSWORD": TEST_PASSWORD,
            "TS_REDIS_SOCKET_TIMEOUT_SECONDS": "0.5",
        },
    )
    assert settings.write_replicas == 1
    old_master = sentinel_cluster.master()
    writer = Writer(settings)
    writer.start()
    wait_for(lambda: len(writer.acked) >= 500, DEADLINE, "500 writes before the kill")

    killed_at = time.monotonic()
    old_master.kill(signal.SIGKILL)
    wait_for(lambda: writer.acked[-1] > killed_at, DEADLINE, "writes to resume")
    before_kill = sum(1 for t in writer.acked if t <= killed_at)
    wait_for(lambda: len(writer.acked) >= before_kill + 500, DEADLINE, "500 writes after the kill")
    writer.stop.set()
    writer.join(timeout=DEADLINE)

    assert writer.error is None
    new_master = sentinel_cluster.master()
    assert new_master.port != old_master.port
    held = int(new_master.client().get(COUNTER) or 0)
    assert held == len(writer.acked), f"acknowledged {len(writer.acked)}, Redis holds {held}"
