"""Active-standby across real processes and real signals: only the current leader fills.

Two contenders (tests/harness/lease_contender.py: RedisLease + PaperExchange) on one
account. The leader is frozen with SIGSTOP until the standby takes over, then
resumed: whatever it submits afterwards is refused, so in the fills stream no fill
of the old epoch ever follows one of the new epoch. SIGTERM releases the lease, so
the standby takes over without waiting the lease out. How fast either happens is a
figure of bench/bot_takeover.py, not an assertion here.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator

import pytest
import redis
from tests.conftest import TEST_PASSWORD
from tests.harness.processes import DEADLINE, WorkerProcess, stop_all
from tests.harness.redis_procs import RedisProcess, wait_for

from tradingstack_workers.keys import Keys

pytestmark = pytest.mark.integration

#: The leader renews every CYCLE and must within LEASE less the lease's 0.5 s safety margin:
#: seconds of slack for a loaded machine. The frozen leader's lease runs out in LEASE.
LEASE = 3.0
CYCLE = 0.05
ACCOUNT = "paper-ha"


@pytest.fixture
def started() -> Iterator[list[WorkerProcess]]:
    processes: list[WorkerProcess] = []
    yield processes
    stop_all(processes)


def contender(
    started: list[WorkerProcess], server: RedisProcess, holder: str, lease: float = LEASE
) -> WorkerProcess:
    argv = [sys.executable, "-m", "tests.harness.lease_contender", "--port", str(server.port)]
    argv += ["--holder", holder, "--lease", str(lease), "--cycle", str(CYCLE)]
    process = WorkerProcess(argv, {"TS_REDIS_PASSWORD": TEST_PASSWORD})
    started.append(process)
    return process


def orders(process: WorkerProcess, label: str | None = None) -> list[int]:
    return [
        int(line["epoch"])
        for line in list(process.lines)
        if line.get("msg") == "order" and (label is None or line["label"] == label)
    ]


def said(process: WorkerProcess, msg: str) -> int:
    return sum(1 for line in list(process.lines) if line.get("msg") == msg)


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
    b.wait_log("standby")  # b asked for the lease and was refused: exactly one trades
    assert orders(b) == []

    os.kill(a.proc.pid, signal.SIGSTOP)
    wait_for(lambda: 2 in orders(b, "filled"), DEADLINE, "b fills under epoch 2")
    standby = said(a, "standby")
    os.kill(a.proc.pid, signal.SIGCONT)
    wait_for(lambda: said(a, "standby") > standby, DEADLINE, "a finds it lost the lease")

    # If a was frozen inside a submit whose script had already run, its reply says
    # "filled" after resuming; that fill still precedes the takeover in the stream.
    # Once a has seen it lost the lease it submits nothing more, while b trades on.
    submitted = len(orders(a))
    filled = len(orders(b, "filled"))
    wait_for(lambda: len(orders(b, "filled")) >= filled + 3, DEADLINE, "more of b's fills")
    assert len(orders(a)) == submitted
    assert set(orders(a)) == {1}
    epochs = fill_epochs(r)
    first_new = epochs.index(2)
    assert set(epochs[first_new:]) == {2}  # no fill of the old leader after the takeover
    assert set(epochs[:first_new]) == {1}


def test_sigterm_releases_so_the_standby_takes_over_at_once(
    redis_proc: RedisProcess, started: list[WorkerProcess]
) -> None:
    # A lease far longer than the wait below: b can only take over because a released it.
    lease = 4 * DEADLINE
    a = contender(started, redis_proc, "a", lease)
    a.wait_log("leader")
    b = contender(started, redis_proc, "b", lease)
    b.wait_log("standby")
    a.proc.send_signal(signal.SIGTERM)
    a.wait_log("released")
    assert a.proc.wait(timeout=DEADLINE) == 0
    holder = redis_proc.client().get(Keys().leader(ACCOUNT))
    assert holder in (None, "b")  # deleted by a (or taken by b since): not left to expire
    wait_for(lambda: 2 in orders(b, "filled"), DEADLINE, "b fills under epoch 2")
