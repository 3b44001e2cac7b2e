"""clusters and governor are singletons by lease and fence, on real Redis.

Two processes of a kind: one leads and writes, the other stands by. The leader is frozen
with SIGSTOP; the standby takes over with a higher epoch; the old leader is resumed and
no write with its epoch lands after the takeover (every fenced write is journalled with
its epoch and holder, so the journal is the record of who wrote what). A second test
shows the fence itself: a leader cut off from its lease backend still believes it leads
(its clock says the lease holds) and tries to write; the fence refuses it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from prometheus_client import CollectorRegistry
from tests.conftest import TEST_PASSWORD
from tests.harness.market import metric_values
from tests.harness.processes import WorkerProcess, start_worker, stop_all, worker_env
from tests.harness.redis_procs import RedisProcess, wait_for

from tradingstack_workers.governor.settings import GovernorSettings
from tradingstack_workers.governor.worker import GovernorWorker
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.leadership import LeadershipUnavailable, RedisLease
from tradingstack_workers.runtime.loop import build_context
from tradingstack_workers.runtime.metrics import RuntimeMetrics
from tradingstack_workers.runtime.settings import load_settings

pytestmark = pytest.mark.integration

KEYS = Keys()
LEASE = 2.0
#: Generous: a loaded machine may start a process slowly; nothing here asserts speed.
WAIT = 60.0


def seed_inputs(client: redis.Redis) -> None:
    """What the governor needs to write budgets every cycle (clusters writes regardless)."""
    now = time.time()
    for symbol in ("BTCUSDT", "ETHUSDT"):
        client.hset(
            KEYS.snapshot(symbol),
            mapping={"position_amt": "1", "mark_price": "100", "ts_epoch": str(now)},
        )
        client.sadd(KEYS.snapshot_index, symbol)
    client.hset(
        KEYS.portfolio_state,
        mapping={"equity_usd": "50000", "drawdown": "0", "timestamp": str(now)},
    )


def journal(client: redis.Redis, kind: str) -> list[dict[str, str]]:
    entries = cast("list[tuple[str, dict[str, str]]]", client.xrange(KEYS.singleton_journal(kind)))
    return [fields for _, fields in entries]


def singleton_env(redis_proc: RedisProcess, kind: str, name: str) -> dict[str, str]:
    interval = {"governor": "0.2", "clusters": "0.3"}[kind]
    return worker_env(
        f"redis://127.0.0.1:{redis_proc.port}/0",
        TEST_PASSWORD,
        TS_INSTANCE=name,
        TS_INTERVAL_SECONDS=interval,
        TS_LEASE_SECONDS=str(LEASE),
        TS_LEASE_SAFETY_SECONDS="0.5",
        TS_HEARTBEAT_INTERVAL_SECONDS="2",
    )


@pytest.fixture
def procs() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    stop_all(started)  # resumes a frozen process first: it cannot die of SIGKILL


def leading(process: WorkerProcess) -> dict[str, Any] | None:
    return next((line for line in reversed(process.lines) if line.get("msg") == "leading"), None)


@pytest.mark.parametrize("kind", ["governor", "clusters"])
def test_a_frozen_leader_is_replaced_and_writes_nothing_after_the_takeover(
    redis_proc: RedisProcess, procs: list[WorkerProcess], kind: str
) -> None:
    client = redis_proc.client()
    seed_inputs(client)
    a = start_worker(kind, singleton_env(redis_proc, kind, f"{kind}-a"))
    procs.append(a)
    wait_for(lambda: leading(a) is not None, WAIT, "a leads")
    first = int(cast("dict[str, Any]", leading(a))["epoch"])
    wait_for(lambda: any(int(e["epoch"]) == first for e in journal(client, kind)), WAIT, "a writes")
    b = start_worker(kind, singleton_env(redis_proc, kind, f"{kind}-b"))
    procs.append(b)
    wait_for(lambda: b.get("/readyz")[0] == 200, WAIT, "b is up")
    assert leading(b) is None
    assert metric_values(b)["tradingstack_worker_is_leader"] == 0

    os.kill(a.proc.pid, signal.SIGSTOP)
    wait_for(lambda: leading(b) is not None, WAIT, "b takes over")
    second = int(cast("dict[str, Any]", leading(b))["epoch"])
    assert second > first
    wait_for(
        lambda: any(int(e["epoch"]) == second for e in journal(client, kind)), WAIT, "b writes"
    )

    os.kill(a.proc.pid, signal.SIGCONT)
    # a wakes up mid-cycle or between cycles; either way it must find itself a standby.
    wait_for(
        lambda: metric_values(a).get("tradingstack_worker_is_leader") == 0, WAIT, "a stands by"
    )
    written = len(journal(client, kind))
    wait_for(lambda: len(journal(client, kind)) >= written + 5, WAIT, "b keeps writing")
    assert b.proc.poll() is None
    assert a.proc.poll() is None

    entries = journal(client, kind)
    takeover = next(i for i, e in enumerate(entries) if int(e["epoch"]) == second)
    assert {int(e["epoch"]) for e in entries[:takeover]} <= {first}
    after = entries[takeover:]
    assert {int(e["epoch"]) for e in after} == {second}, "a write with the old epoch landed"
    assert {e["holder"] for e in after} == {cast("dict[str, Any]", leading(b))["holder"]}
    assert int(client.get(KEYS.singleton_leadership(kind).fence) or 0) == second


class CutOff(RedisLease):
    """The lease backend becomes unreachable (a partitioned node and its API server)."""

    cut = False

    def _claim(self, now: float) -> int | None:
        if self.cut:
            raise LeadershipUnavailable("partitioned")
        return super()._claim(now)


def governor(redis_proc: RedisProcess, name: str, elect: RedisLease | None = None
             ) -> tuple[GovernorWorker, CollectorRegistry]:  # fmt: skip
    env = {
        "TS_REDIS_URL": f"redis://127.0.0.1:{redis_proc.port}/0",
        "TS_REDIS_PASSWORD": TEST_PASSWORD,
        "TS_INSTANCE": name,
        "TS_INTERVAL_SECONDS": "0.1",
        "TS_LEASE_SECONDS": str(LEASE),
        "TS_LEASE_SAFETY_SECONDS": "0.5",
    }
    settings = load_settings(GovernorSettings, env)
    registry = CollectorRegistry()
    ctx = build_context(settings, registry, RuntimeMetrics.create(registry, "governor"),
                        threading.Event())  # fmt: skip
    return GovernorWorker(ctx, elect=elect), registry


def test_a_leader_that_believes_it_still_leads_is_fenced_off(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    seed_inputs(client)
    scope = KEYS.singleton_leadership("governor")
    lease_a = CutOff(client, scope, "holder-a", lease_seconds=LEASE, safety_seconds=0.5)
    a, registry_a = governor(redis_proc, "a", elect=lease_a)
    clock = [1_000.0]
    a.monotonic = lambda: clock[0]  # a's clock barely moves: its lease never runs out for it
    a.step()
    assert a.epoch is not None
    first = a.epoch
    assert [int(e["epoch"]) for e in journal(client, "governor")] == [first]

    lease_a.cut = True  # a can no longer renew; its lease expires in Redis
    wait_for(lambda: client.exists(scope.lease) == 0, WAIT, "a's lease expires in Redis")
    b, _ = governor(redis_proc, "b")
    b.step()
    assert b.epoch == first + 1
    budgets_b = client.hgetall(KEYS.budget("BTCUSDT"))

    clock[0] += 0.2  # its next cycle is due; its lease (2 s) still holds by its clock
    a.step()  # still "leader" by its own clock, so it runs its cycle and tries to write
    assert registry_a.get_sample_value("tradingstack_worker_fenced_writes_total") == 1
    assert registry_a.get_sample_value("tradingstack_worker_is_leader") == 0
    assert a.epoch is None
    assert [int(e["epoch"]) for e in journal(client, "governor")] == [first, first + 1]
    assert client.hgetall(KEYS.budget("BTCUSDT")) == budgets_b
    clock[0] += 0.2
    a.step()  # and it stays a standby
    assert a.epoch is None
    a.close()
    b.close()
