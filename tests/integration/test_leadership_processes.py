"""Active-standby across real processes and real signals: only the current leader fills.

Two contenders (tests/harness/lease_contender.py: RedisLease + PaperExchange) on one
account. The leader is frozen with SIGSTOP until the standby takes over, then
resumed: whatever it submits afterwards is refused, so in the fills stream no fill
of the old epoch ever follows one of the new epoch. SIGTERM releases the lease, so
the standby takes over without waiting the lease out.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from tests.conftest import TEST_PASSWORD
from tests.harness.processes import WorkerProcess
from tests.harness.redis_procs import RedisProcess

from tradingstack_workers.keys import Keys

pytestmark = pytest.mark.integration

LEASE = 2.0
CYCLE = 0.05
ACCOUNT = "paper-ha"


@pytest.fixture
def started() -> Iterator[list[WorkerProcess]]:
    processes: list[WorkerProcess] = []
    yield processes
    for process in processes:
        if process.proc.poll() is None:
            os.kill(process.proc.pid, signal.SIGCONT)
        process.stop()


def contender(started: list[WorkerProcess], server: RedisProcess, holder: str) -> WorkerProcess:
    argv = [sys.executable, "-m", "tests.harness.lease_contender", "--port", str(server.port)]
    argv += ["--holder", holder, "--lease", str(LEASE), "--cycle", str(CYCLE)]
    process = WorkerProcess(argv, {"TS_REDIS_PASSWORD": TEST_PASSWORD})
    started.append(process)
    return process


def orders(process: WorkerProcess, label: str | None = None) -> list[int]:
    return [
        int(line["epoch"])
        for line in list(process.lines)
        if line.get("msg") == "order" and (label is None or line["label"] == label)
    ]


def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds it took for ``condition()`` to hold."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.01)
    return time.monotonic() - start


def fill_epochs(r: redis.Redis) -> list[int]:
    entries = r.xrange(Keys().fills(ACCOUNT)) or []
    return [int(fields["epoch"]) for _, fields in entries if fields is not None]


def test_sigstop_leader_is_replaced_and_cannot_fill_after_resuming(
    redis_proc: RedisProcess, started: list[WorkerProcess]
) -> None:
    r = redis_proc.client()
    a = contender(started, redis_proc, "a")
    assert a.wait_log("leader")["epoch"] == 1
    b = contender(started, redis_proc, "b")
    time.sleep(0.5)
    assert orders(b) == []  # exactly one trades

    os.kill(a.proc.pid, signal.SIGSTOP)
    took = wait_until(lambda: 2 in orders(b, "filled"), timeout=LEASE + 3.0)
    assert took <= LEASE + 1.0  # the lease duration plus a cycle or so
    os.kill(a.proc.pid, signal.SIGCONT)
    seen = len(orders(a))
    time.sleep(0.5)

    # If a was frozen inside a submit whose script had already run, its reply says
    # "filled" after resuming; that fill still precedes the takeover in the stream.
    # Every submit that starts after resuming is refused.
    resumed = [line for line in list(a.lines) if line.get("msg") == "order"][seen:]
    assert all(line["epoch"] == 1 for line in resumed)
    assert all(line["label"] == "stale_epoch" for line in resumed[1:])
    epochs = fill_epochs(r)
    first_new = epochs.index(2)
    assert set(epochs[first_new:]) == {2}  # no fill of the old leader after the takeover
    assert set(epochs[:first_new]) == {1}


def test_sigterm_releases_so_the_standby_takes_over_at_once(
    redis_proc: RedisProcess, started: list[WorkerProcess]
) -> None:
    a = contender(started, redis_proc, "a")
    a.wait_log("leader")
    b = contender(started, redis_proc, "b")
    time.sleep(0.3)
    a.proc.send_signal(signal.SIGTERM)
    a.wait_log("released")
    assert a.proc.wait(timeout=5) == 0
    took = wait_until(lambda: 2 in orders(b, "filled"), timeout=LEASE)
    assert took < LEASE / 2  # released, not expired
