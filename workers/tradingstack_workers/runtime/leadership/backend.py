"""The leadership backend a worker's settings ask for."""

from __future__ import annotations

import redis

from ...keys import LeaseKeys
from .base import Leadership, unique_holder
from .fence import EpochFence
from .redis_lease import RedisLease
from .settings import LeaderSettings


def leadership(settings: LeaderSettings, client: redis.Redis, keys: LeaseKeys) -> Leadership:
    """A Kubernetes Lease in a cluster, a Redis lease locally; one holder id per process."""
    holder = unique_holder(settings.instance)
    if settings.leadership == "kubernetes":
        import kubernetes  # noqa: PLC0415 - only in a cluster

        from .kubernetes_lease import KubernetesLease  # noqa: PLC0415 - the client, 30 MB

        kubernetes.config.load_incluster_config()
        return KubernetesLease(
            kubernetes.client.CoordinationV1Api(),
            settings.lease_namespace,
            settings.lease_object,
            holder,
            EpochFence(client, keys.fence),
            lease_seconds=settings.lease_seconds,
            safety_seconds=settings.lease_safety_seconds,
        )
    return RedisLease(
        client,
        keys,
        holder,
        lease_seconds=settings.lease_seconds,
        safety_seconds=settings.lease_safety_seconds,
    )
