"""The pod tier: the rendered Redis pods as real processes, one network namespace each.

Run alone with ``.venv/bin/pytest tests/pods`` (as root, as CI runs it). Each test gets
its own pod network (a per-run name prefix, its own /24 of 10.203.0.0/16) and its own
Redis StatefulSet, and removes both at the end, by name and PID.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import podnet
from tests.harness.pod_clients import AckWriter, Prober, writer_env
from tests.harness.podnet import PodNetwork
from tests.harness.redis_set import RedisSet
from tradingstack_operator.render import Stack
from tradingstack_operator.spec import parse_spec

pytestmark = pytest.mark.pods

#: Failover timings of the tier: short enough for a quick failover, long enough that a
#: loaded CI machine does not fail over by mistake.
SENTINEL = {"downAfterMilliseconds": 3000, "failoverTimeoutMilliseconds": 6000}
ACKED = "quantum:pods:acked"


def stack_spec(**redis: Any) -> Stack:
    spec = parse_spec({"symbols": ["BTCUSDT"], "redis": {"sentinel": dict(SENTINEL), **redis}})
    return Stack(name="paper", namespace="desk", spec=spec)


@pytest.fixture
def net() -> Iterator[PodNetwork]:
    reason = podnet.available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the pod tier must run in CI: {reason}")
        pytest.skip(reason)
    network = PodNetwork().create()
    try:
        yield network
    finally:
        network.close()
        assert network.leftovers() == []


@pytest.fixture
def redis_set(
    net: PodNetwork, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[RedisSet]:
    """Three Redis pods with Sentinel, settled: one master that everybody agrees on."""
    marker = request.node.get_closest_marker("redis_spec")
    stack = stack_spec(**(marker.kwargs if marker else {}))
    pods = RedisSet(stack, net, tmp_path / "set").start()
    try:
        pods.wait_settled()
        pods.wait_ready()
        yield pods
    finally:
        pods.close()
        for name, tail in pods.iter_logs():  # shown by pytest for a failing test only
            print(f"===== {name}\n{tail}")
        for pod_name, events in ((p.name, p.events) for p in pods.pods.values()):
            print(pod_name, events)


@pytest.fixture
def writer(net: PodNetwork, redis_set: RedisSet, tmp_path: Path) -> Iterator[AckWriter]:
    """A worker in its own namespace, writing through Sentinel, acknowledged with WAIT 1."""
    folder = tmp_path / "writer"
    net.add("w0")
    process = AckWriter(
        net, "w0", writer_env(redis_set, folder), out=folder / "acks.txt", key=ACKED
    )
    try:
        process.wait_acks(50, timeout=60)
        yield process
    finally:
        process.stop()
        print(process.tail())


@pytest.fixture
def prober(net: PodNetwork, redis_set: RedisSet, tmp_path: Path) -> Iterator[Prober]:
    """The operator's Redis probe, looping from a namespace of its own."""
    net.add("op")
    process = Prober(net, "op", redis_set, tmp_path / "probe")
    try:
        yield process
    finally:
        process.stop()
