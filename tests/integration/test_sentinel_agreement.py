"""Workers trust a master only when a quorum of sentinels name it (real redis-sentinel)."""

from __future__ import annotations

import gc
import os
import signal
import threading
from typing import Any

import pytest
import redis
from redis.sentinel import MasterNotFoundError, Sentinel
from tests.conftest import TEST_PASSWORD
from tests.harness.redis_procs import MASTER_NAME, SentinelCluster
from tests.harness.redis_set import wait_until

from tradingstack_operator.killswitch import kill_switch_on
from tradingstack_operator.sentinel import Credentials, PassCredentials
from tradingstack_operator.spec import parse_spec
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
    with pytest.raises(MasterNotFoundError, match="no 2 sentinels agree") as refused:
        agreeing.discover_master(MASTER_NAME)
    # Each named its own master; the one that forgot it answered an error.
    assert "x1, 127.0.0.1:" in str(refused.value)
    assert str(refused.value).endswith("seeing it down: 0; errors: 1)")


def _clients(cluster: SentinelCluster, name: str) -> int:
    """Connections the sentinels hold from clients named ``name``."""
    total = 0
    for sentinel in cluster.sentinels:
        with sentinel.client() as admin:
            total += sum(1 for c in admin.client_list() if c.get("name") == name)
    return total


def test_the_operators_kill_switch_writer_closes_its_sentinels_every_run(
    sentinel_cluster: SentinelCluster,
) -> None:
    """The operator builds an AgreeingSentinel per reconcile: each run must close it, or
    every run leaves a connection on each sentinel and its asking threads behind."""
    hosts = [("127.0.0.1", s.port) for s in sentinel_cluster.sentinels]
    common = {"password": TEST_PASSWORD, "socket_timeout": 2.0, "socket_connect_timeout": 2.0}
    named = common | {"client_name": "kill-switch-writer"}  # to count ours only

    def connect(*_: Any) -> redis.Redis:
        sentinel = AgreeingSentinel(hosts, 2, sentinel_kwargs=named)  # as sentinel_connect
        client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            MASTER_NAME, decode_responses=True, **common
        )
        return client

    write = kill_switch_on(connect)
    spec = parse_spec({"symbols": ["BTCUSDT"], "redis": {"replicas": 3}})
    credentials = PassCredentials(lambda: Credentials(TEST_PASSWORD))
    assert write("paper", "desk", spec, credentials).error is None  # warm: lazy connections
    # Closed by the writer, not whenever the garbage collector breaks the client's cycles.
    gc.disable()
    try:
        threads = threading.active_count()
        for _ in range(10):
            assert write("paper", "desk", spec, credentials).error is None
        wait_until(lambda: _clients(sentinel_cluster, "kill-switch-writer") == 0, 30,
                   "the writer's connections to the sentinels closed")  # fmt: skip
        assert threading.active_count() <= threads
    finally:
        gc.enable()


def test_sentinels_that_see_the_master_down_are_counted_as_such(
    sentinel_cluster: SentinelCluster,
) -> None:
    """Every server frozen: each sentinel answers, with the master subjectively down and
    no replica to promote. The error says so, rather than 'named: none' alone."""
    agreeing = _sentinels(sentinel_cluster, AgreeingSentinel, quorum=2)
    frozen = [node.pid for node in sentinel_cluster.nodes]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:

        def all_see_it_down() -> bool:
            try:
                agreeing.discover_master(MASTER_NAME)
            except MasterNotFoundError as exc:
                return "seeing it down: 3;" in str(exc)
            return False

        wait_until(all_see_it_down, 60, "every sentinel seeing the master down")
        with pytest.raises(MasterNotFoundError) as refused:
            agreeing.discover_master(MASTER_NAME)
        assert str(refused.value).endswith("(named: none; seeing it down: 3; errors: 0)")
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
