"""The leadership backend a bot's settings ask for."""

from __future__ import annotations

from ..keys import Keys
from ..runtime.loop import WorkerContext
from .leadership import EpochFence, KubernetesLease, Leadership, RedisLease, unique_holder
from .settings import BotSettings


def leadership(ctx: WorkerContext[BotSettings]) -> Leadership:
    """A Kubernetes Lease in a cluster, a Redis lease locally; one holder id per process."""
    s = ctx.settings
    holder = unique_holder(s.instance)
    keys: Keys = ctx.keys
    if s.leadership == "kubernetes":
        from kubernetes import client, config  # noqa: PLC0415 - only in a cluster

        config.load_incluster_config()
        return KubernetesLease(
            client.CoordinationV1Api(),
            s.lease_namespace,
            s.lease_name,
            holder,
            EpochFence(ctx.redis, keys, s.account),
            lease_seconds=s.lease_seconds,
            safety_seconds=s.lease_safety_seconds,
        )
    return RedisLease(
        ctx.redis,
        keys,
        s.account,
        holder,
        lease_seconds=s.lease_seconds,
        safety_seconds=s.lease_safety_seconds,
    )
