"""Redis with Sentinel: replicas, failover timings, storage and the password Secret."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from .base import DnsSubdomain, Quantity, Resources, WireModel, resources


class SentinelSpec(WireModel):
    """Sentinel decides failover; one sentinel runs beside each Redis pod."""

    enabled: bool | None = Field(
        default=None,
        description="Run Sentinel; unset means on with 3 or more replicas, off with 1.",
    )
    quorum: int = Field(
        default=2, ge=1, le=9, description="Sentinels that must agree the master is down."
    )
    down_after_milliseconds: int = Field(
        default=5000, ge=500, le=600_000, description="Silence before a sentinel marks it down."
    )
    failover_timeout_milliseconds: int = Field(default=60_000, ge=1000, le=3_600_000)
    parallel_syncs: int = Field(
        default=1, ge=1, le=8, description="Replicas resynced at once after a failover."
    )


class StorageSpec(WireModel):
    """The PersistentVolumeClaim each Redis pod keeps its RDB/AOF on."""

    size: Quantity = "1Gi"
    storage_class_name: DnsSubdomain | None = Field(
        default=None, description="Unset uses the cluster's default StorageClass."
    )


class AuthSpec(WireModel):
    """Where the Redis password lives; the operator generates a Secret when none is named."""

    existing_secret: DnsSubdomain | None = Field(
        default=None, description="A Secret in the stack's namespace holding the password."
    )
    key: Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)] = (
        "password"
    )


class RedisSpec(WireModel):
    """The stack's Redis: a StatefulSet, with Sentinel when it has 3 or more replicas."""

    replicas: int = Field(
        default=3, ge=1, le=9, description="1 (no Sentinel) or at least 3 (with Sentinel)."
    )
    sentinel: SentinelSpec = Field(default_factory=SentinelSpec)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    auth: AuthSpec = Field(default_factory=AuthSpec)
    resources: Resources = Field(default_factory=lambda: resources("100m", "256Mi", "768Mi"))
    image: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = Field(
        default=None, description="Redis image; unset uses the operator's pinned default."
    )

    @property
    def sentinel_enabled(self) -> bool:
        """Whether Sentinel runs, resolving the unset default from the replica count."""
        if self.sentinel.enabled is None:
            return self.replicas >= 3
        return self.sentinel.enabled
