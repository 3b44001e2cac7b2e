"""Password rotation under a steady write load: both passwords accepted until every worker
rolled, then only the new ones; no acknowledged write lost, no login refused.

A person changes both Secrets (the admin's and every component user's); the kubelet
rewrites them in the running pods; the operator's rollover step (rotation.roll_passwords)
brings the servers and sentinels along live; the workers roll (a new writer with the new
password, then the old one stops, as a Deployment's rolling update does); the rollover
finishes. A failover afterwards runs on the new passwords only: sentinels log in with
theirs, replicas with theirs, the restarted pod builds its ACL from the new Secret.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from tests.harness.pod_clients import AckWriter
from tests.harness.podnet import PodNetwork
from tests.harness.redis_set import RedisSet, wait_until
from tests.harness.rollover_checks import (
    accepted_everywhere,
    no_auth_trouble,
    none_lost,
    only_new_accepted,
    refused,
    roll_writer,
)
from tradingstack_operator.reconcile.rollover import Rollover
from tradingstack_operator.reconcile.rotation import ADMIN
from tradingstack_operator.render import names
from tradingstack_operator.rotation import roll_passwords

ACKED_AFTER = "quantum:pods:acked-after-roll"


def test_both_secrets_rotated_under_load_lose_nothing_and_refuse_nobody(
    net: PodNetwork, redis_set: RedisSet, writer: AckWriter, tmp_path: Path
) -> None:
    stack = redis_set.stack
    auth, users = names.redis_auth(stack.name), names.redis_users(stack.name)
    key = stack.spec.redis.auth.key
    old = {ADMIN: redis_set.admin_password} | redis_set.secrets.data[users]
    new = {user: secrets.token_urlsafe(32) for user in old}
    addresses = [redis_set.address(i) for i in range(redis_set.replicas)]

    def roll(*, workers_rolled: bool) -> Rollover:
        return roll_passwords(addresses, new, previous_admin=[old[ADMIN]],
                              workers_rolled=workers_rolled)  # fmt: skip

    # The person's change, mounted by the kubelet into the running pods.
    redis_set.update_secret(auth, {key: new[ADMIN]})
    redis_set.update_secret(users, {u: p for u, p in new.items() if u != ADMIN})
    begun = roll(workers_rolled=False)
    assert begun == Rollover(switched=True, done=False, under_way=True), begun
    redis_set.admin_password = new[ADMIN]
    for password in (old["worker"], new["worker"]):  # both, during the rollover
        assert accepted_everywhere(redis_set, "worker", password)

    rolled = roll_writer(net, redis_set, writer, tmp_path / "rolled-writer", ACKED_AFTER)
    try:
        done = roll(workers_rolled=True)
        assert done == Rollover(switched=True, done=True, under_way=True), done
        assert only_new_accepted(redis_set, old, new)

        # A failover on the new passwords alone: sentinels, replication, a restarted pod.
        master = redis_set.wait_settled()
        killed_at = time.monotonic()
        redis_set.kill(master)
        rolled.wait_acks(100, timeout=120, after=killed_at)
        redis_set.restart(master)
        now_master = redis_set.wait_settled()
        assert now_master != master
        rolled.stop()
        client = redis_set.client(now_master)
        none_lost(client, [writer, rolled])
        for process in (writer, rolled):
            no_auth_trouble(process)
        in_sync = client.scard(ACKED_AFTER)
        wait_until(lambda: redis_set.client(master).scard(ACKED_AFTER) == in_sync, 60,
                   "the restarted pod in sync on the new replication password")  # fmt: skip
    finally:
        rolled.stop()
        print(rolled.tail())


def test_a_pod_restarted_mid_rollover_still_takes_the_old_password(
    redis_set: RedisSet, writer: AckWriter
) -> None:
    """Its ACL is built from the new Secret only; the next rollover step gives it the old
    passwords back from its peers, so workers not yet rolled are not refused there."""
    users = names.redis_users(redis_set.stack.name)
    old = {ADMIN: redis_set.admin_password} | redis_set.secrets.data[users]
    new = old | {"worker": secrets.token_urlsafe(32)}
    addresses = [redis_set.address(i) for i in range(redis_set.replicas)]
    redis_set.update_secret(users, {u: p for u, p in new.items() if u != ADMIN})
    assert roll_passwords(addresses, new, workers_rolled=False).switched
    restarted = redis_set.wait_settled()  # the master: the workers' writes go there
    redis_set.kill(restarted)
    redis_set.restart(restarted)
    address = redis_set.address(restarted)
    wait_until(lambda: refused(address, names.REDIS_PORT, "worker", old["worker"]), 60,
               "the restarted server to answer, with the new password only")  # fmt: skip
    assert roll_passwords(addresses, new, workers_rolled=False).switched
    for port in (names.REDIS_PORT, names.SENTINEL_PORT):
        assert not refused(address, port, "worker", old["worker"])
        assert not refused(address, port, "worker", new["worker"])
    redis_set.wait_settled()
    no_auth_trouble(writer)
