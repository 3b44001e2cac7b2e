"""Fixtures shared by every tier: real Redis processes, stopped by PID after each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.harness.redis_procs import (
    RedisProcess,
    SentinelCluster,
    redis_server,
    start_sentinel_cluster,
)
from tradingstack_workers.bots.execution.lean_ccxt import exchange_class

TEST_PASSWORD = "test-secret"

# A live bot loads ccxt with its one exchange (lean_ccxt.py, issue #18). So does the test
# process, before any test module imports ccxt: the in-process live tests (429s, orders,
# the poller against the fake Binance) run on the package a bot runs on.
exchange_class("binance")

# Property tests assert no duration either (the machine is shared): no per-example deadline,
# and no "too slow" health check (examples that talk to a real Redis are slow by nature).
# CI draws the same examples on every run, so a red run can be replayed; no example
# database is written into the checkout.
settings.register_profile(
    "tradingstack",
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("tradingstack")


@pytest.fixture
def redis_proc(tmp_path: Path) -> Iterator[RedisProcess]:
    """One password-protected redis-server on a free loopback port."""
    server = redis_server(tmp_path / "redis", password=TEST_PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture
def sentinel_cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    """A master, two replicas (online) and three sentinels (quorum 2), all with a password."""
    cluster = start_sentinel_cluster(tmp_path / "cluster", password=TEST_PASSWORD)
    yield cluster
    cluster.stop()
