"""Exactly-once writes against a real redis-server."""

from __future__ import annotations

import pytest
from tests.harness.redis_procs import RedisProcess

from tradingstack_workers.runtime.once import OnceWriter
from tradingstack_workers.runtime.redis_client import RedisUnavailable, RetryPolicy

pytestmark = pytest.mark.integration


def test_an_operation_is_applied_once_and_its_replies_are_remembered(
    redis_proc: RedisProcess,
) -> None:
    client = redis_proc.client()
    writer = OnceWriter(client, RetryPolicy(budget_seconds=1), "quantum")
    commands = [["INCR", "n"], ["HSET", "h", "a", "1", "b", "2"], ["XADD", "s", "*", "f", "v"]]
    first = writer.apply("op-1", commands)
    again = writer.apply("op-1", commands)
    assert first == again
    assert first[:2] == [1, 2]
    assert client.get("n") == "1"
    assert client.xlen("s") == 1
    assert writer.apply("op-2", [["INCR", "n"]]) == [2]
    assert 0 < client.ttl("quantum:once:op-1") <= 86_400


def test_a_write_no_replica_acknowledges_fails_after_the_budget(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    writer = OnceWriter(
        client, RetryPolicy(budget_seconds=0.3), "quantum", replicas=1, replica_timeout_ms=50
    )
    with pytest.raises(RedisUnavailable, match="reached 0 of 1 replicas"):
        writer.apply("op-1", [["INCR", "n"]])
    # Applied on the master, but never counted as acknowledged, and never applied twice.
    assert client.get("n") == "1"
