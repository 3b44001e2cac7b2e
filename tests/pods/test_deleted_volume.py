"""A pod deleted with its volume comes back empty: it must resync as a replica, and an
empty dataset must never be promoted over the data its peers hold."""

from __future__ import annotations

import threading
import time

from tests.harness.pod_clients import AckWriter
from tests.harness.redis_set import RedisSet, wait_until
from tests.pods.conftest import ACKED


class RoleWatch(threading.Thread):
    """Every role one pod reports, until stopped."""

    def __init__(self, redis_set: RedisSet, ordinal: int) -> None:
        super().__init__(daemon=True)
        self.redis_set, self.ordinal = redis_set, ordinal
        self.seen: list[tuple[str, int | None]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            role = self.redis_set.role(self.ordinal)
            if role is not None and (not self.seen or self.seen[-1] != role):
                self.seen.append(role)
            self.stop.wait(0.1)


def _in_sync(redis_set: RedisSet, replica: int, master: int) -> bool:
    if redis_set.client(replica).info("replication").get("master_link_status") != "up":
        return False
    return bool(redis_set.client(replica).scard(ACKED) == redis_set.client(master).scard(ACKED))


def test_the_master_lost_with_its_volume_comes_back_as_a_replica_and_is_never_promoted(
    redis_set: RedisSet, writer: AckWriter
) -> None:
    old = redis_set.wait_settled()
    survivors = [i for i in range(redis_set.replicas) if i != old]
    # The node is gone with the disk: the pod dies at once, the claim with it, and the
    # StatefulSet creates the pod again before Sentinel fails over (held back here, so
    # the new pod surely meets sentinels that still name it master).
    down_after = str(redis_set.stack.spec.redis.sentinel.down_after_milliseconds)
    redis_set.sentinel_set(survivors, "down-after-milliseconds", "600000")
    lost_at = time.monotonic()
    redis_set.delete(old, graceful=False, keep_claim=False)
    pod = redis_set.create(old)
    watch = RoleWatch(redis_set, old)
    watch.start()
    try:
        wait_until(lambda: "its volume is new" in (pod.logs / "redis.log").read_text(), 60,
                   "the new pod to find the sentinels naming it master")  # fmt: skip
        redis_set.sentinel_set(survivors, "down-after-milliseconds", down_after)
        new = redis_set.wait_settled()
        writer.wait_acks(100, timeout=90, after=lost_at)
    finally:
        watch.stop.set()
        watch.join()
    print(f"\nno write acknowledged for {writer.longest_gap(since=lost_at - 1):.2f} s; "
          f"the new pod reported {watch.seen}")  # fmt: skip
    assert new != old
    assert ("master", None) not in watch.seen, "the empty pod was promoted"
    assert watch.seen[-1:] == [("slave", new)]

    # A replica lost with its volume: it also resyncs from the master.
    replica = next(i for i in range(redis_set.replicas) if i not in (new, old))
    redis_set.delete(replica, graceful=False, keep_claim=False)
    redis_set.create(replica)
    writer.wait_acks(100, timeout=90, after=time.monotonic())
    assert redis_set.wait_settled() == new
    writer.stop()

    held = {int(m) for m in redis_set.client(new).smembers(ACKED)}
    lost = sorted(set(writer.acked()) - held)
    assert lost == [], f"{len(lost)} acknowledged writes lost, e.g. {lost[:10]}"
    for ordinal in (old, replica):
        wait_until(lambda: _in_sync(redis_set, ordinal, new), 60, f"pod {ordinal} in sync")  # noqa: B023
