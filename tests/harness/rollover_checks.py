"""What a password rollover must leave true on the Redis pods and for the writers:
which passwords each server and sentinel takes, a worker Deployment's rolling update,
and the writers' record (nothing acknowledged lost, no login refused).

Shared by the tests of ``rotation.roll_passwords`` and of the operator's rollover step.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import redis

from tests.harness.pod_clients import AckWriter, writer_env
from tests.harness.podnet import PodNetwork
from tests.harness.redis_set import RedisSet
from tradingstack_operator.reconcile.rotation import ADMIN
from tradingstack_operator.render import names

#: What a refused login looks like in a writer's log or outcomes.
AUTH_REFUSED = ("AuthenticationError", "WRONGPASS", "NOAUTH", "invalid username-password")


def refused(address: str, port: int, user: str | None, password: str) -> bool:
    """Whether the server or sentinel at ``address:port`` refuses ``user``'s ``password``."""
    client = redis.Redis(host=address, port=port, username=user, password=password,
                         socket_timeout=3, socket_connect_timeout=3)  # fmt: skip
    try:
        client.ping()
    except redis.AuthenticationError:
        return True
    finally:
        client.close()
    return False


def accepted_everywhere(redis_set: RedisSet, user: str | None, password: str) -> bool:
    """Every server and sentinel of ``redis_set`` takes ``user``'s ``password``."""
    return not any(
        refused(redis_set.address(ordinal), port, user, password)
        for ordinal in range(redis_set.replicas)
        for port in (names.REDIS_PORT, names.SENTINEL_PORT)
    )


def only_new_accepted(redis_set: RedisSet, old: Mapping[str, str], new: Mapping[str, str]) -> bool:
    """After a rollover: every node refuses the old worker and admin passwords and takes
    the new worker password (``old``, ``new``: user -> password, the admin as ``default``)."""
    return all(
        refused(redis_set.address(ordinal), port, user, old[user or ADMIN])
        for ordinal in range(redis_set.replicas)
        for port in (names.REDIS_PORT, names.SENTINEL_PORT)
        for user in ("worker", None)
    ) and accepted_everywhere(redis_set, "worker", new["worker"])


def roll_writer(net: PodNetwork, redis_set: RedisSet, writer: AckWriter, folder: Path,
                key: str) -> AckWriter:  # fmt: skip
    """A worker Deployment's rolling update: a new writer (``w1``, on set ``key``) with the
    password its Secret holds now acknowledges writes, then ``writer`` stops."""
    net.add("w1")
    rolled = AckWriter(net, "w1", writer_env(redis_set, folder), out=folder / "acks.txt",
                       key=key)  # fmt: skip
    try:
        rolled.wait_acks(50, timeout=60)
        writer.wait_acks(50, timeout=60, after=time.monotonic())  # the old one still writes
    except BaseException:
        rolled.stop()
        raise
    writer.stop()
    return rolled


def no_auth_trouble(writer: AckWriter) -> None:
    """The writer saw no failed write and no refused login."""
    fails = [o for o in writer.outcomes() if o.kind == "fail"]
    assert fails == [], fails[:5]
    log = writer.log.read_text(errors="replace") if writer.log.exists() else ""
    assert not any(word in log for word in AUTH_REFUSED), log[-2000:]


def none_lost(client: redis.Redis, writers: Sequence[AckWriter]) -> None:
    """Every write each writer saw acknowledged is in its set on ``client``'s server."""
    for process in writers:
        held = {int(m) for m in client.smembers(process.key)}
        lost = sorted(set(process.acked()) - held)
        assert process.acked(), f"nothing acknowledged in {process.key}"
        assert lost == [], f"{len(lost)} lost from {process.key}: {lost[:10]}"
