"""Workers trust a master only when a quorum of sentinels name it (real redis-sentinel)."""

from __future__ import annotations

import pytest
from redis.sentinel import MasterNotFoundError, Sentinel
from tests.conftest import TEST_PASSWORD
from tests.harness.redis_procs import MASTER_NAME, SentinelCluster

from tradingstack_workers.runtime.sentinel import AgreeingSentinel

pytestmark = pytest.mark.integration


def _sentinels(cluster: SentinelCluster, kind: type[Sentinel], **kwargs: object) -> Sentinel:
    hosts = [("127.0.0.1", s.port) for s in cluster.sentinels]
    return kind(hosts, sentinel_kwargs={"password": TEST_PASSWORD, "socket_timeout": 1},
                **kwargs)  # fmt: skip


def test_a_lone_sentinel_naming_another_master_is_not_followed(
    sentinel_cluster: SentinelCluster,
) -> None:
    master = sentinel_cluster.master_port()
    agreeing = _sentinels(sentinel_cluster, AgreeingSentinel, quorum=2)
    assert agreeing.discover_master(MASTER_NAME) == ("127.0.0.1", master)

    # Sentinel 0 comes back alone with another view (as after a restart of its pod during
    # an outage of its peers); sentinel 1 forgets the master: no two agree any more.
    replica = next(n.port for n in sentinel_cluster.nodes if n.port != master)
    first, second, _ = (s.client() for s in sentinel_cluster.sentinels)
    first.execute_command("SENTINEL", "REMOVE", MASTER_NAME)
    first.execute_command("SENTINEL", "MONITOR", MASTER_NAME, "127.0.0.1", replica, 2)
    first.execute_command("SENTINEL", "SET", MASTER_NAME, "auth-pass", TEST_PASSWORD)
    second.execute_command("SENTINEL", "REMOVE", MASTER_NAME)

    # redis-py's own Sentinel takes the first answer it gets: the lone, wrong one.
    plain = _sentinels(sentinel_cluster, Sentinel)
    assert plain.discover_master(MASTER_NAME) == ("127.0.0.1", replica)
    with pytest.raises(MasterNotFoundError, match="no 2 sentinels agree"):
        agreeing.discover_master(MASTER_NAME)
