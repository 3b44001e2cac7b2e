"""Redis with Sentinel: replicas, failover timings, storage, auth, TLS, metrics, placement."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .base import DnsSubdomain, Quantity, Resources, WireModel
from .placement import PlacementSpec

Image = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class SentinelSpec(WireModel):
    """Sentinel decides failover; one sentinel runs beside each Redis pod."""

    enabled: bool | None = Field(
        default=None,
        description="Run Sentinel; unset means on with 3 or more replicas, off with 1.",
    )
    quorum: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Sentinels that must agree the master is down; clients and the operator "
        "trust a master only when this many sentinels name it. A majority of the replicas, "
        "and fewer than all of them.",
    )
    down_after_milliseconds: int = Field(
        default=5000, ge=500, le=600_000, description="Silence before a sentinel marks it down."
    )
    failover_timeout_milliseconds: int = Field(default=60_000, ge=1000, le=3_600_000)
    parallel_syncs: int = Field(
        default=1, ge=1, le=8, description="Replicas resynced at once after a failover."
    )


class StorageSpec(WireModel):
    """The PersistentVolumeClaim each Redis pod keeps its AOF on (immutable once created)."""

    size: Quantity = Field(
        default="1Gi", description="Fixed at creation: a StatefulSet cannot change its claims."
    )
    storage_class_name: DnsSubdomain | None = Field(
        default=None,
        description="Unset uses the cluster's default StorageClass; fixed at creation.",
    )


class AuthSpec(WireModel):
    """Where the admin password lives; the operator generates a Secret when none is named.

    Components never see it: workers, replication, Sentinel and the exporter each have
    their own ACL user, with passwords in the operator-generated ``<stack>-redis-users``.
    """

    existing_secret: DnsSubdomain | None = Field(
        default=None, description="A Secret in the stack's namespace holding the password."
    )
    key: Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)] = (
        "password"
    )


class TlsSpec(WireModel):
    """TLS for clients, replication and Sentinel; plain TCP when disabled."""

    enabled: bool = False
    secret_name: DnsSubdomain | None = Field(
        default=None,
        description="A kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt; the "
        "certificate must name every pod (*.<stack>-redis-headless.<namespace>.svc.<domain>).",
    )


class MetricsSpec(WireModel):
    """A redis_exporter sidecar in every Redis pod, scraped through a PodMonitor."""

    enabled: bool = True
    image: Image | None = Field(
        default=None, description="Exporter image; unset uses the operator's pinned default."
    )


def _redis_resources() -> Resources:
    # Requests equal limits (Guaranteed QoS: evicted last); maxmemory is a share of the limit.
    amounts: dict[str, int | str] = {"cpu": "500m", "memory": "768Mi"}
    return Resources(requests=dict(amounts), limits=dict(amounts))


class RedisSpec(WireModel):
    """The stack's Redis: a StatefulSet, with Sentinel when it has 3 or more replicas."""

    replicas: int = Field(
        default=3, ge=1, le=9, description="1 (no Sentinel) or at least 3 (with Sentinel)."
    )
    sentinel: SentinelSpec = Field(default_factory=SentinelSpec)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    auth: AuthSpec = Field(default_factory=AuthSpec)
    tls: TlsSpec = Field(default_factory=TlsSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    resources: Resources = Field(
        default_factory=_redis_resources,
        description="limits.memory is required (maxmemory derives from it); requests, when "
        "given, must equal limits.",
    )
    append_fsync: Literal["always", "everysec"] = Field(
        default="always",
        description="always: an acknowledged write is on disk on the master and, with WAIT, "
        "on a replica, so even every pod dying at once loses none; everysec: far more "
        "writes per second, and up to two seconds of them lost then.",
    )
    maxmemory_percent: int = Field(
        default=70,
        ge=10,
        le=90,
        description="maxmemory as a share of limits.memory; the rest absorbs fork copy-on-write.",
    )
    anti_affinity: Literal["required", "preferred"] = Field(
        default="required",
        description="Spread of Redis pods over nodes: required keeps a Sentinel majority "
        "through the loss of one node (needs as many nodes as replicas).",
    )
    placement: PlacementSpec | None = Field(
        default=None, description="Redis' own placement; unset uses spec.placement."
    )
    priority_class_name: DnsSubdomain | None = Field(
        default=None, description="A PriorityClass for the Redis pods."
    )
    image: Image | None = Field(
        default=None, description="Redis image; unset uses the operator's pinned default."
    )

    @property
    def sentinel_enabled(self) -> bool:
        """Whether Sentinel runs, resolving the unset default from the replica count."""
        if self.sentinel.enabled is None:
            return self.replicas >= 3
        return self.sentinel.enabled
