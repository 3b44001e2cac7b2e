"""KubernetesLease against the API emulator (coordination.k8s.io/v1 Lease) and a real Redis.

The kubernetes client is synchronous and the emulator serves from the test's event
loop, so every lease call runs in a thread. ``now`` is an injected monotonic clock.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import kmock
import pytest
import redis
from kubernetes.client import CoordinationV1Api, V1Lease

from tests.harness.paper import open_paper_exchange
from tests.harness.redis_procs import RedisProcess
from tests.operator.emulator import Emulator
from tradingstack_workers.bots.execution import (
    OrderIntent,
)
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.leadership import EpochFence, KubernetesLease, Lease

pytestmark = pytest.mark.asyncio

KEYS = Keys()
ACCOUNT = "paper-1"
NAME = "bot-1-leader"
LEASES = kmock.resource("coordination.k8s.io/v1/leases")
DURATION = 10


class FrozenReads(CoordinationV1Api):
    """Reads answer a Lease read earlier: a contender acting on a version already replaced."""

    def __init__(self, api_client: Any, frozen: V1Lease) -> None:
        super().__init__(api_client)
        self.frozen = frozen

    def read_namespaced_lease(self, *args: Any, **kwargs: Any) -> V1Lease:
        return self.frozen


@pytest.fixture
def r(redis_proc: RedisProcess) -> redis.Redis:
    return redis_proc.client()


def contender(api_client: Any, r: redis.Redis, namespace: str, holder: str) -> KubernetesLease:
    return KubernetesLease(
        CoordinationV1Api(api_client),
        namespace,
        NAME,
        holder,
        EpochFence(r, KEYS.fence(ACCOUNT)),
        lease_seconds=DURATION,
        safety_seconds=1.0,
    )


async def claim(lease: KubernetesLease, now: float) -> Lease | None:
    return await asyncio.to_thread(lease.acquire_or_renew, now)


def record(emulator: Emulator, namespace: str) -> dict[str, Any]:
    body = emulator.read(LEASES, namespace, NAME)
    assert body is not None
    spec: dict[str, Any] = body["spec"]
    return spec


async def test_two_contenders_one_leader_and_the_epoch_is_published(
    emulator: Emulator, namespace: str, api_client: Any, r: redis.Redis
) -> None:
    a = contender(api_client, r, namespace, "a")
    b = contender(api_client, r, namespace, "b")
    got_a, got_b = await claim(a, 0.0), await claim(b, 0.0)
    assert got_a is not None
    assert (got_a.epoch, got_a.deadline) == (1, 9.0)
    assert got_b is None
    assert r.get(KEYS.fence(ACCOUNT)) == "1"
    spec = record(emulator, namespace)
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == (
        "a",
        DURATION,
        1,
    )
    # MicroTime: the API server wants six fraction digits; the client drops a zero fraction.
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)", spec["renewTime"]
    )


async def test_renewal_keeps_the_epoch_and_refreshes_the_record(
    emulator: Emulator, namespace: str, api_client: Any, r: redis.Redis
) -> None:
    a = contender(api_client, r, namespace, "a")
    await claim(a, 0.0)
    before = record(emulator, namespace)
    renewed = await claim(a, 5.0)
    assert renewed is not None
    assert (renewed.epoch, renewed.deadline) == (1, 14.0)
    after = record(emulator, namespace)
    assert after["leaseTransitions"] == 1
    assert after["acquireTime"] == before["acquireTime"]
    assert after["renewTime"] != before["renewTime"]


async def test_a_leader_that_stops_renewing_is_replaced_after_the_lease_duration(
    namespace: str, api_client: Any, r: redis.Redis
) -> None:
    a = contender(api_client, r, namespace, "a")
    b = contender(api_client, r, namespace, "b")
    held = await claim(a, 0.0)
    assert held is not None
    assert await claim(b, 100.0) is None  # first sight of a's record, on b's clock
    assert not a.is_leader(9.0)  # a's own deadline passed without renewal
    assert await claim(b, 100.0 + DURATION - 0.1) is None
    taken = await claim(b, 100.0 + DURATION)
    assert taken is not None
    assert taken.epoch == 2
    assert r.get(KEYS.fence(ACCOUNT)) == "2"  # published before b acts
    # a resumes: the record is b's, so a is not leader, and its old epoch is fenced off.
    assert await claim(a, 10.0) is None
    exchange = open_paper_exchange(r, KEYS, ACCOUNT)
    order = OrderIntent(ACCOUNT, "bot-1", "p1", "BTCUSDT", "BUY", 1.0)
    assert exchange.submit(order, held.epoch, 100.0, 1.8e9).label == "stale_epoch"
    assert exchange.submit(order, taken.epoch, 100.0, 1.8e9).label == "filled"


async def test_of_two_contenders_racing_for_an_expired_lease_one_gets_409_and_loses(
    namespace: str, api_client: Any, r: redis.Redis
) -> None:
    a = contender(api_client, r, namespace, "a")
    await claim(a, 0.0)
    api = CoordinationV1Api(api_client)
    frozen = await asyncio.to_thread(api.read_namespaced_lease, NAME, namespace)
    b = contender(api_client, r, namespace, "b")
    c = KubernetesLease(
        FrozenReads(api_client, frozen),
        namespace,
        NAME,
        "c",
        EpochFence(r, KEYS.fence(ACCOUNT)),
        lease_seconds=DURATION,
        safety_seconds=1.0,
    )
    for contender_ in (b, c):
        assert await claim(contender_, 0.0) is None
    won = await claim(b, DURATION)
    assert won is not None
    assert won.epoch == 2
    assert await claim(c, DURATION) is None  # its PUT carried a replaced resourceVersion
    assert r.get(KEYS.fence(ACCOUNT)) == "2"


async def test_release_lets_the_standby_take_over_at_once(
    emulator: Emulator, namespace: str, api_client: Any, r: redis.Redis
) -> None:
    a = contender(api_client, r, namespace, "a")
    b = contender(api_client, r, namespace, "b")
    await claim(a, 0.0)
    assert await claim(b, 0.0) is None
    await asyncio.to_thread(a.release)
    assert record(emulator, namespace).get("holderIdentity") is None
    assert not a.is_leader(0.0)
    got = await claim(b, 0.1)  # no lease duration to wait out
    assert got is not None
    assert got.epoch == 2


async def test_a_recreated_lease_still_raises_the_epoch(
    namespace: str, api_client: Any, r: redis.Redis
) -> None:
    a = contender(api_client, r, namespace, "a")
    await claim(a, 0.0)
    api = CoordinationV1Api(api_client)
    await asyncio.to_thread(api.delete_namespaced_lease, NAME, namespace)
    b = contender(api_client, r, namespace, "b")
    got = await claim(b, 0.0)
    assert got is not None
    assert got.epoch == 2  # leaseTransitions restarted, the fence did not
    assert await claim(a, 1.0) is None


async def test_an_unreachable_api_keeps_the_lease_until_its_deadline(
    emulator: Emulator, namespace: str, api_client: Any, r: redis.Redis
) -> None:
    a = contender(api_client, r, namespace, "a")
    held = await claim(a, 0.0)
    emulator.fail_once(emulator["get", LEASES], 500)
    assert await claim(a, 5.0) == held  # the old deadline (9.0) stands
    assert a.is_leader(8.9)
    emulator.fail_once(emulator["get", LEASES], 503)
    assert await claim(a, 9.0) is None
