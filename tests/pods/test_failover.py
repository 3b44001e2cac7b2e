"""A master lost under load: Sentinel fails over, and no acknowledged write is lost."""

from __future__ import annotations

import time

import pytest
import redis

from tests.harness.pod_clients import AckWriter, Prober
from tests.harness.redis_set import RedisSet, wait_until
from tests.pods.conftest import ACKED


def test_kill_9_of_the_master_loses_no_acknowledged_write(
    redis_set: RedisSet, writer: AckWriter
) -> None:
    old = redis_set.wait_settled()
    killed_at = time.monotonic()
    redis_set.kill(old)
    writer.wait_acks(100, timeout=90, after=killed_at)
    outage = writer.longest_gap(since=killed_at - 1)
    spec = redis_set.stack.spec.redis.sentinel
    down_after = spec.down_after_milliseconds / 1000
    print(f"\nno write acknowledged for {outage:.2f} s around kill -9 of the master: "
          f"down-after {down_after:g} s + {outage - down_after:.2f} s of failover "
          f"(failover-timeout {spec.failover_timeout_milliseconds / 1000:g} s)")  # fmt: skip

    # The killed pod comes back (the kubelet restarts it): it rejoins as a replica.
    redis_set.restart(old)
    new = redis_set.wait_settled()
    assert new != old
    writer.stop()
    held = {int(m) for m in redis_set.client(new).smembers(ACKED)}
    acked = writer.acked()
    assert acked, "the writer acknowledged nothing"
    lost = sorted(set(acked) - held)
    assert lost == [], f"{len(lost)} acknowledged writes lost, e.g. {lost[:10]}"
    # The returned pod holds the same data once in sync.
    wait_until(
        lambda: redis_set.client(old).scard(ACKED) == len(held), 60, "the old master in sync"
    )


@pytest.mark.redis_spec(tls={"enabled": True, "secretName": "paper-redis-tls"})
def test_over_tls_too(redis_set: RedisSet, writer: AckWriter, prober: Prober) -> None:
    """Clients, replication and Sentinel all over TLS: a failover still loses nothing."""
    old = redis_set.wait_settled()
    plain = redis.Redis(host=redis_set.address(old), port=6379, password=redis_set.admin_password,
                        socket_timeout=2, socket_connect_timeout=2)  # fmt: skip
    with pytest.raises(redis.ConnectionError):
        plain.ping()  # no plain TCP listener
    killed_at = time.monotonic()
    redis_set.kill(old)
    writer.wait_acks(100, timeout=90, after=killed_at)
    redis_set.restart(old)
    new = redis_set.wait_settled()
    writer.stop()
    held = {int(m) for m in redis_set.client(new).smembers(ACKED)}
    assert set(writer.acked()) <= held
    wait_until(lambda: (prober.views() or [{}])[-1].get("master") == f"{redis_set.fqdn(new)}:6379",
               60, "the operator's probe to find the new master over TLS")  # fmt: skip
