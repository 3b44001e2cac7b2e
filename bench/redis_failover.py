"""Redis failover on simulated pods: how long writes stop, and how many acknowledged ones are lost.

Each scenario runs the rendered Redis pods of a fresh stack (tests/pods' harness: real
redis-server and redis-sentinel in network namespaces) under a worker writing through
Sentinel with WAIT 1 (tests/harness/ack_writer.py). Its figure is the longest time
without an acknowledged write; ``lost_acked_writes`` counts acknowledged writes missing
from the master afterwards; ``failovers`` is how far the sentinels' config-epoch moved
(a rolling restart should hand over once, not twice). The baseline, measured in the same
run, is a bare Sentinel failover on loopback (redis_procs: no pods, no scripts, no
network namespaces) with the same timings; ``seed_target_seconds`` is the old hand-run
monitor's "under 30 s" (seed 004).

Needs root (network namespaces), as the pod tier does. ``--quick``: the kill-9 scenario
alone, with the pod tier's short timings. ``password-rollover`` is no failover: its
figure should stay near the writer's own pace, with 0 failovers.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.harness import podnet
from tests.harness.pod_clients import AckWriter, writer_env
from tests.harness.podnet import PodNetwork
from tests.harness.redis_procs import SentinelTimings, start_sentinel_cluster, wait_for
from tests.harness.redis_set import RedisSet

from bench.common import emit, parser
from tradingstack_operator.reconcile.rotation import ADMIN
from tradingstack_operator.render import Stack, names
from tradingstack_operator.rotation import roll_passwords
from tradingstack_operator.spec import parse_spec
from tradingstack_workers.runtime.settings import env_name

KEY = "quantum:bench:acked"
SEED_TARGET_SECONDS = 30.0
#: Production defaults (spec.redis.sentinel) and the pod tier's short ones (--quick).
FULL = {"downAfterMilliseconds": 5000, "failoverTimeoutMilliseconds": 60000}
QUICK = {"downAfterMilliseconds": 3000, "failoverTimeoutMilliseconds": 6000}
Scenario = Callable[[RedisSet, AckWriter], dict[str, Any]]


@contextlib.contextmanager
def pods(sentinel: dict[str, int], folder: Path) -> Iterator[tuple[RedisSet, AckWriter]]:
    """A settled Redis set and a worker writing through Sentinel, removed afterwards."""
    spec = parse_spec({"symbols": ["BTCUSDT"], "redis": {"sentinel": sentinel}})
    net = PodNetwork().create()
    redis_set = RedisSet(Stack(name="bench", namespace="desk", spec=spec), net, folder / "set")
    writer = None
    try:
        redis_set.start().wait_settled()
        redis_set.wait_ready()
        net.add("w0")
        env = writer_env(redis_set, folder / "writer")
        writer = AckWriter(net, "w0", env, out=folder / "writer" / "acks.txt", key=KEY)
        writer.wait_acks(50, timeout=60)
        yield redis_set, writer
    finally:
        if writer is not None:
            writer.stop()
        redis_set.close()
        net.close()


def _epoch(redis_set: RedisSet) -> int:
    """The settled set's config-epoch, the highest any sentinel holds: +1 per failover."""
    redis_set.wait_settled()
    return max(redis_set.config_epoch(ordinal) for ordinal in redis_set.pods)


def _result(redis_set: RedisSet, writer: AckWriter, since: float, epoch: int) -> dict[str, Any]:
    master = redis_set.wait_settled()
    writer.wait_acks(50, timeout=120, after=time.monotonic())
    writer.stop()
    held = {int(m) for m in redis_set.client(master).smembers(KEY)}
    return {
        "seconds": writer.longest_gap(since=since),
        "lost_acked_writes": len(set(writer.acked()) - held),
        "acked_writes": len(writer.acked()),
        "failovers": _epoch(redis_set) - epoch,
    }


def _master_down(
    redis_set: RedisSet, writer: AckWriter, down: Callable[[int], object],
    up: Callable[[int], object],
) -> dict[str, Any]:  # fmt: skip
    """``down`` to the master, ``up`` once writes resume elsewhere."""
    master = redis_set.wait_settled()
    epoch = _epoch(redis_set)
    began = time.monotonic()
    down(master)
    writer.wait_acks(20, timeout=120, after=began)
    up(master)
    return _result(redis_set, writer, began - 1, epoch)


def kill_master(redis_set: RedisSet, writer: AckWriter) -> dict[str, Any]:
    """kill -9 of the master pod's processes; they stay down until writes resume."""
    return _master_down(redis_set, writer, redis_set.kill, redis_set.restart)


def partition(redis_set: RedisSet, writer: AckWriter) -> dict[str, Any]:
    """The master's network cut; the failover behind it; healed once writes resume."""
    return _master_down(redis_set, writer, redis_set.cut, redis_set.heal)


def lost_volume(redis_set: RedisSet, writer: AckWriter) -> dict[str, Any]:
    """The master's pod and claim deleted at once; the pod recreated with an empty claim."""

    def lose(ordinal: int) -> None:
        redis_set.delete(ordinal, graceful=False, keep_claim=False)
        redis_set.create(ordinal)

    return _master_down(redis_set, writer, lose, lambda _ordinal: None)


def cold_start(redis_set: RedisSet, writer: AckWriter) -> dict[str, Any]:
    """Every pod killed at once, pod 0 the most behind (cut off), restarted 0, 1, 2."""
    master = redis_set.wait_settled()
    if master == 0:
        redis_set.delete(0)
        redis_set.create(0)
        redis_set.wait_settled()
    epoch = _epoch(redis_set)
    redis_set.cut(0)
    writer.wait_acks(100, timeout=60, after=time.monotonic())
    for ordinal in range(redis_set.replicas):
        redis_set.kill(ordinal)
    redis_set.heal(0)
    began = time.monotonic()
    for ordinal in range(redis_set.replicas):
        redis_set.restart(ordinal)
    writer.wait_acks(20, timeout=180, after=began)
    return _result(redis_set, writer, began, epoch)


def rolling_restart(redis_set: RedisSet, writer: AckWriter) -> dict[str, Any]:
    """Every pod deleted and recreated in turn through its preStop hook."""
    epoch = _epoch(redis_set)
    began = time.monotonic()
    redis_set.roll()
    return _result(redis_set, writer, began, epoch)


def password_rollover(redis_set: RedisSet, writer: AckWriter) -> dict[str, Any]:
    """Both Secrets changed and mounted; the operator's rollover step takes every server
    and sentinel to the new passwords live (the worker, not rolled here, keeps the old)."""
    stack = redis_set.stack
    users = names.redis_users(stack.name)
    new = {user: secrets.token_urlsafe(32) for user in (ADMIN, *redis_set.secrets.data[users])}
    old_admin = redis_set.admin_password
    epoch = _epoch(redis_set)
    began = time.monotonic()
    redis_set.update_secret(names.redis_auth(stack.name), {stack.spec.redis.auth.key: new[ADMIN]})
    redis_set.update_secret(users, {u: p for u, p in new.items() if u != ADMIN})
    rollover = roll_passwords([redis_set.address(i) for i in range(redis_set.replicas)], new,
                              previous_admin=[old_admin], workers_rolled=False)  # fmt: skip
    if not rollover.switched:
        raise RuntimeError(f"the rollover did not switch: {rollover}")
    redis_set.admin_password = new[ADMIN]
    return _result(redis_set, writer, began, epoch)


def bare_sentinel_failover(sentinel: dict[str, int], folder: Path) -> float:
    """The baseline: kill -9 of a loopback master under the same writer and timings."""
    password = "bench-secret"
    cluster = start_sentinel_cluster(
        folder / "loopback",
        password=password,
        timings=SentinelTimings(down_after_ms=sentinel["downAfterMilliseconds"],
                                failover_timeout_ms=sentinel["failoverTimeoutMilliseconds"]),
    )  # fmt: skip
    secret = folder / "loopback-password"
    secret.write_text(password)
    env = {
        env_name("redis_sentinels"): cluster.sentinel_addresses,
        env_name("redis_password_file"): str(secret),
        env_name("instance"): "bench-baseline",
    }
    writer = AckWriter(None, "", env, out=folder / "loopback-acks.txt", key=KEY)
    try:
        writer.wait_acks(50, timeout=60)
        began = time.monotonic()
        cluster.master().kill()
        writer.wait_acks(20, timeout=120, after=began)
        wait_for(lambda: len(writer.acks_after(began)) >= 50, 60, "writes after the failover")
        return writer.longest_gap(since=began - 1)
    finally:
        writer.stop()
        cluster.stop()


SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "kill-9-master": ("kill -9 of the master pod", kill_master),
    "cold-start": ("all pods killed, restarted, pod 0 oldest", cold_start),
    "partition": ("master cut off, healed after the failover", partition),
    "rolling-restart": ("rolling restart through preStop", rolling_restart),
    "lost-volume": ("master pod lost with its volume", lost_volume),
    "password-rollover": ("both Secrets rotated, Redis taking them live", password_rollover),
}


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--only", action="append", choices=list(SCENARIOS),
                         help="run this scenario (repeatable); default: every one")  # fmt: skip
    args = options.parse_args()
    reason = podnet.available()
    if reason is not None:
        sys.exit(f"redis_failover: {reason}")
    sentinel = QUICK if args.quick else FULL
    chosen = args.only or (["kill-9-master"] if args.quick else list(SCENARIOS))
    with tempfile.TemporaryDirectory(prefix="redis-failover-") as tmp:
        folder = Path(tmp)
        baseline = bare_sentinel_failover(sentinel, folder)
        for name in chosen:
            case, scenario = SCENARIOS[name]
            with pods(sentinel, folder / name) as (redis_set, writer):
                result = scenario(redis_set, writer)
            emit(
                "redis_failover",
                f"{name}: {case}",
                unit="s without an acknowledged write",
                value=result.pop("seconds"),
                baseline_case="kill -9 of a bare loopback Sentinel master",
                baseline_value=baseline,
                seed_target_seconds=SEED_TARGET_SECONDS,
                down_after_ms=sentinel["downAfterMilliseconds"],
                failover_timeout_ms=sentinel["failoverTimeoutMilliseconds"],
                **result,
            )


if __name__ == "__main__":
    main()
