"""A rolling restart through the preStop hooks, pod by pod, under a steady write load."""

from __future__ import annotations

import time

from tests.harness.pod_clients import AckWriter
from tests.harness.redis_set import RedisSet
from tests.pods.conftest import ACKED


def test_a_rolling_restart_loses_no_acknowledged_write_and_fails_over_once(
    redis_set: RedisSet, writer: AckWriter
) -> None:
    first = redis_set.wait_settled()
    epoch = redis_set.config_epoch(first)
    began = time.monotonic()

    def still_writing(_ordinal: int) -> None:
        writer.wait_acks(20, timeout=90, after=time.monotonic())

    redis_set.roll(on_pod=still_writing)
    master = redis_set.wait_settled()
    writer.stop()
    print(f"\nrolled 3 pods in {time.monotonic() - began:.1f} s; longest time without an "
          f"acknowledged write: {writer.longest_gap(since=began):.2f} s")  # fmt: skip

    held = {int(m) for m in redis_set.client(master).smembers(ACKED)}
    lost = sorted(set(writer.acked()) - held)
    assert lost == [], f"{len(lost)} acknowledged writes lost, e.g. {lost[:10]}"
    # Only the master's own pod handed over (one failover), in its preStop hook.
    assert redis_set.config_epoch(master) == epoch + 1
    assert master != first
    handed_over = [p.name for p in redis_set.gone if any("handed over to" in e for e in p.events)]
    assert handed_over == [redis_set.pod_name(first)], [p.events for p in redis_set.gone]
