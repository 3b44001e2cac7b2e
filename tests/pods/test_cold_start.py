"""Every Redis pod killed at once and restarted, in every order, pod 0 holding the oldest data.

Before the change, the pod that found no sentinel answering became master whatever its
data, and pod 0 was the fallback: here pod 0 is a replica cut off while the others took
acknowledged writes, so a cold start that follows it loses them. The pods must follow the
last master the sentinels recorded (kept on the data volumes) instead.
"""

from __future__ import annotations

import itertools
import time

import pytest

from tests.harness.pod_clients import AckWriter
from tests.harness.redis_set import RedisSet, wait_until
from tests.pods.conftest import ACKED
from tradingstack_operator.render import names


def _master_away_from_zero(redis_set: RedisSet) -> int:
    """Move the master off pod 0 as a restart of pod 0 would: its preStop hands over.

    (A bare SENTINEL FAILOVER would not do: the old master keeps acknowledging writes
    through the replica that is not promoted, which then resyncs and drops them.)
    """
    master = redis_set.wait_settled()
    if master == 0:
        redis_set.delete(0)
        redis_set.create(0)
        master = redis_set.wait_settled()
    assert master != 0
    return master


@pytest.mark.parametrize("together", [False, True], ids=["one-by-one", "all-at-once"])
def test_a_cold_start_in_every_order_follows_the_last_master_and_loses_nothing(
    redis_set: RedisSet, writer: AckWriter, together: bool
) -> None:
    """One by one: each pod once the previous one's sentinel answers (a pod that comes
    back alone first meets no agreeing sentinels). All at once: every pod restarted back
    to back in that order, as the kubelets of a rebooted cluster do (Parallel)."""
    for order in itertools.permutations(range(redis_set.replicas)):
        master = _master_away_from_zero(redis_set)
        redis_set.cut(0)  # pod 0 falls behind: it holds the oldest data from now on
        writer.wait_acks(100, timeout=90, after=time.monotonic())
        for ordinal in range(redis_set.replicas):
            redis_set.kill(ordinal)
        redis_set.heal(0)
        for ordinal in order:
            redis_set.restart(ordinal)
            if not together:
                wait_until(lambda: redis_set.client(ordinal, names.SENTINEL_PORT).ping(),  # noqa: B023
                           60, f"pod {ordinal}'s sentinel up")  # fmt: skip
        settled = redis_set.wait_settled()
        writer.wait_acks(50, timeout=120, after=time.monotonic())
        acked = set(writer.acked())  # before reading the set: the writer goes on writing
        held = {int(m) for m in redis_set.client(settled).smembers(ACKED)}
        lost = sorted(acked - held)
        print(f"\norder {order} ({'at once' if together else 'one by one'}): master {master} "
              f"before, {settled} after; {len(held)} held")  # fmt: skip
        assert lost == [], f"order {order}: {len(lost)} acknowledged writes lost, e.g. {lost[:10]}"
        assert redis_set.masters() == [settled]
