"""``up``'s Redis supervision when Sentinel cannot fail over: the master and two of three
sentinels killed at once (quorum 2). Real servers and sentinels, driven by RedisWatch."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from tests.harness.processes import DEADLINE
from tests.harness.redis_procs import free_port, wait_for

from tradingstack_operator.render.stack import stack_from_manifest
from tradingstack_workers.password import read_password
from tradingstack_workers.up import local_redis
from tradingstack_workers.up.redis_procs import MASTER_NAME
from tradingstack_workers.up.redis_watch import RedisWatch
from tradingstack_workers.up.supervise import Backoff

pytestmark = pytest.mark.integration

SENTINEL = {"quorum": 2, "downAfterMilliseconds": 1000, "failoverTimeoutMilliseconds": 2000}
MANIFEST = {
    "apiVersion": "tradingstack.io/v1alpha1",
    "kind": "TradingStack",
    "metadata": {"name": "w"},
    "spec": {
        "symbols": ["BTCUSDT"],
        "redis": {"replicas": 3, "sentinel": SENTINEL},
    },
}


@pytest.fixture
def started(tmp_path: Path) -> Iterator[local_redis.LocalRedis]:
    redis_ = local_redis.start(stack_from_manifest(MANIFEST), tmp_path / "data", free_port)
    yield redis_
    redis_.stop()  # the processes in place now, restarted ones included


def role(redis_: local_redis.LocalRedis, port: int) -> tuple[str, int | None]:
    """(role, master port) as the server on ``port`` reports it, link up for a replica."""
    password = read_password(redis_.secret)
    info = redis.Redis(port=port, password=password, socket_timeout=2).info("replication")
    if info["role"] == "slave" and info["master_link_status"] != "up":
        return ("slave (link down)", None)
    return (str(info["role"]), int(info["master_port"]) if info["role"] == "slave" else None)


def test_a_whole_outage_comes_back_with_one_master(started: local_redis.LocalRedis) -> None:
    events: list[dict[str, Any]] = []
    watch = RedisWatch("w", started, lambda event, **f: events.append({"event": event, **f}),
                       Backoff())  # fmt: skip
    master_port = int(cast(str, started.master()).rpartition(":")[2])
    index = [s.port for s in started.servers].index(master_port)
    killed = [started.servers[index].pid, started.sentinels[0].pid, started.sentinels[1].pid]
    for pid in killed:
        os.kill(pid, signal.SIGKILL)

    def recovered() -> bool:
        watch.tick()
        roles = [role(started, s.port) for s in started.servers]
        masters = [s.port for s, r in zip(started.servers, roles, strict=True) if r[0] == "master"]
        if len(masters) != 1 or sorted(roles).count(("slave", masters[0])) != 2:
            return False
        password = read_password(started.secret)
        for sentinel in started.sentinels:
            client = redis.Redis(port=sentinel.port, password=password, socket_timeout=2)
            named = cast(tuple[str, int], client.sentinel_get_master_addr_by_name(MASTER_NAME))
            client.execute_command("SENTINEL CKQUORUM", MASTER_NAME)  # raises without quorum
            if int(named[1]) != masters[0]:
                return False
        return True

    wait_for(recovered, 2 * DEADLINE, "one master, two replicas, three agreeing sentinels")
    restarts = [e for e in events if e["event"] == "restart"]
    assert sorted((e["pid"], e["exit_code"]) for e in restarts) == sorted(
        (pid, -signal.SIGKILL) for pid in killed
    )
    assert {e["instance"] for e in events if e["event"] == "redis_started"} == {
        f"w-redis-{index}",
        "w-redis-sentinel-0",
        "w-redis-sentinel-1",
    }
    # The killed master never came back as a master while the sentinels still named it:
    # it waited for their failover, or (when the restarted sentinels had failed over
    # before its backoff ran out, as on a slow machine) it came back as a replica.
    mine = [e for e in events if e.get("instance") == f"w-redis-{index}"]
    back = next(e for e in mine if e["event"] == "redis_started")
    waited = [e for e in mine[: mine.index(back)] if e["event"] == "redis_waiting"]
    assert waited or str(back["role"]).startswith("replica of "), mine
    # Readiness is asked in the background: every process ready once answered.
    everyone = sorted([("w-redis", True)] * 3 + [("w-redis-sentinel", True)] * 3)
    wait_for(lambda: sorted(watch.health(started.master())) == everyone, DEADLINE,
             "every process ready")  # fmt: skip
    watch.close()
