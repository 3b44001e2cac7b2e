"""RedisLease against a real redis-server: one leader, epochs that fence, deadlines that bite.

``now`` is an injected monotonic clock: the local deadline is tested with made-up
instants; the server's TTL (real time) is tested with a short lease, waited for.
"""

from __future__ import annotations

import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from tests.harness.paper import open_paper_exchange
from tests.harness.processes import DEADLINE
from tests.harness.redis_procs import RedisProcess, wait_for

from tradingstack_workers.bots.execution import (
    OrderIntent,
)
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.leadership import RedisLease, unique_holder

pytestmark = pytest.mark.integration

KEYS = Keys()
ACCOUNT = "paper-1"


def no_retry_client(server: RedisProcess) -> redis.Redis:
    """As runtime.redis_client.connect builds it: redis-py's own retries off, short timeouts.
    A lease call must fail fast; a renewal that outlasts the lease is worth nothing."""
    return redis.Redis(
        host="127.0.0.1",
        port=server.port,
        password=server.password,
        decode_responses=True,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )


@pytest.fixture
def r(redis_proc: RedisProcess) -> redis.Redis:
    return no_retry_client(redis_proc)


def lease(r: redis.Redis, holder: str, seconds: float = 30.0) -> RedisLease:
    return RedisLease(
        r, KEYS.bot_leadership(ACCOUNT), holder, lease_seconds=seconds, safety_seconds=0.1
    )


def test_two_contenders_exactly_one_leader(r: redis.Redis) -> None:
    a, b = lease(r, "a"), lease(r, "b")
    got_a, got_b = a.acquire_or_renew(0.0), b.acquire_or_renew(0.0)
    assert got_a is not None
    assert got_a.epoch == 1
    assert got_b is None
    assert (a.is_leader(0.0), b.is_leader(0.0)) == (True, False)
    assert r.get(KEYS.fence(ACCOUNT)) == "1"  # where the chokepoint reads it


def test_many_concurrent_contenders_elect_one(r: redis.Redis, redis_proc: RedisProcess) -> None:
    contenders = [lease(no_retry_client(redis_proc), f"c{i}") for i in range(8)]
    start = threading.Barrier(len(contenders))
    won: list[str] = []

    def run(c: RedisLease) -> None:
        start.wait()
        if c.acquire_or_renew(0.0) is not None:
            won.append(c.holder)

    threads = [threading.Thread(target=run, args=(c,)) for c in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert r.get(KEYS.fence(ACCOUNT)) == "1"


def test_renewal_keeps_the_epoch_and_moves_the_deadline(r: redis.Redis) -> None:
    a = lease(r, "a", seconds=10.0)
    first = a.acquire_or_renew(100.0)
    second = a.acquire_or_renew(105.0)
    assert first is not None
    assert second is not None
    assert second.epoch == first.epoch == a.epoch == 1
    assert (first.deadline, second.deadline) == (109.9, 114.9)  # lease - safety margin


def test_is_leader_is_false_past_the_deadline_without_any_renewal(r: redis.Redis) -> None:
    a = lease(r, "a", seconds=10.0)
    assert a.acquire_or_renew(1000.0) is not None
    assert a.is_leader(1009.8)
    assert not a.is_leader(1009.9)  # no call to Redis: the clock alone ends it
    assert a.epoch == 1  # still what it would have carried: the chokepoint decides


def test_a_leader_that_stops_renewing_loses_the_lease_and_the_other_gets_epoch_plus_one(
    r: redis.Redis,
) -> None:
    a, b = lease(r, "a"), lease(r, "b")
    assert a.acquire_or_renew(time.monotonic()) is not None
    assert b.acquire_or_renew(time.monotonic()) is None  # not while a's lease runs
    assert 0 < r.pttl(KEYS.leader(ACCOUNT)) <= 30_000  # Redis ends it unless a renews
    # a renews one last time with a short lease, then stops renewing (a paused process).
    a = lease(r, "a", seconds=0.5)
    assert a.acquire_or_renew(time.monotonic()) is not None
    wait_for(lambda: b.acquire_or_renew(time.monotonic()) is not None, DEADLINE, "b takes over")
    assert b.epoch == 2
    # a's own deadline fell before the key expired, so it had stopped acting already.
    assert not a.is_leader(time.monotonic())
    # a wakes up and renews: the key is b's now, so a learns it lost.
    assert a.acquire_or_renew(time.monotonic()) is None
    assert a.epoch is None


def test_a_zombie_leaders_order_is_refused_after_the_takeover(r: redis.Redis) -> None:
    exchange = open_paper_exchange(r, KEYS, ACCOUNT)
    a, b = lease(r, "a", seconds=0.3), lease(r, "b", seconds=0.3)
    held = a.acquire_or_renew(time.monotonic())
    assert held is not None
    wait_for(lambda: b.acquire_or_renew(time.monotonic()) is not None, DEADLINE, "b takes over")
    order = OrderIntent(ACCOUNT, "bot-1", "p1", "BTCUSDT", "BUY", 1.0)
    # a was paused (SIGSTOP) and submits with the epoch it still remembers.
    assert exchange.submit(order, held.epoch, 100.0, 1.8e9).label == "stale_epoch"
    assert exchange.state().positions == {}
    assert b.epoch is not None
    assert exchange.submit(order, b.epoch, 100.0, 1.8e9).label == "filled"


def test_release_lets_the_standby_take_over_at_once(r: redis.Redis) -> None:
    a, b = lease(r, "a"), lease(r, "b")
    assert a.acquire_or_renew(0.0) is not None
    a.release()
    assert not a.is_leader(0.0)
    got = b.acquire_or_renew(0.0)
    assert got is not None
    assert got.epoch == 2
    a.release()  # releasing what another holds deletes nothing
    assert r.get(KEYS.leader(ACCOUNT)) == "b"


def test_a_restarted_pod_with_the_same_name_acquires_anew(r: redis.Redis) -> None:
    first, second = unique_holder("bot-0"), unique_holder("bot-0")
    assert first != second
    assert first.startswith("bot-0-")
    assert lease(r, first, seconds=0.3).acquire_or_renew(0.0) is not None
    restarted = lease(r, second, seconds=0.3)
    wait_for(lambda: restarted.acquire_or_renew(0.0) is not None, DEADLINE, "restarted pod")
    assert restarted.epoch == 2


def test_redis_down_keeps_the_lease_until_its_deadline_then_nothing(
    r: redis.Redis, redis_proc: RedisProcess
) -> None:
    a = lease(r, "a", seconds=10.0)
    held = a.acquire_or_renew(0.0)
    redis_proc.stop()
    assert a.acquire_or_renew(5.0) == held  # renewal failed: the old deadline stands
    assert a.is_leader(9.8)
    assert a.acquire_or_renew(9.9) is None
    assert not a.is_leader(9.9)
    a.release()  # must not raise with Redis gone


def test_lease_must_outlast_its_safety_margin(r: redis.Redis) -> None:
    with pytest.raises(ValueError, match="safety_seconds"):
        RedisLease(r, KEYS.bot_leadership(ACCOUNT), "a", lease_seconds=1.0, safety_seconds=1.0)
