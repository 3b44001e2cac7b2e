"""Environment contract of a worker that elects a leader (bots, clusters, governor)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from ..settings import RuntimeSettings


class LeaderSettings(RuntimeSettings):
    """Which backend elects the leader, and for how long a lease holds.

    In a cluster the renderer sets ``kubernetes`` (a coordination.k8s.io Lease named
    ``lease_name`` in ``lease_namespace``); locally (``tradingstack up``, tests) a Redis
    key is the lease. Either way the epoch is published in Redis for fenced writes.
    """

    leadership: Literal["redis", "kubernetes"] = "redis"
    lease_seconds: float = Field(default=15.0, gt=0)
    lease_safety_seconds: float = Field(default=1.0, ge=0)
    lease_name: str = Field(
        default="", description="Kubernetes Lease (default tradingstack-<kind>)"
    )
    lease_namespace: str = ""

    @model_validator(mode="after")
    def _check_lease(self) -> Self:
        if self.lease_seconds <= self.lease_safety_seconds:
            raise ValueError(
                f"TS_LEASE_SECONDS: {self.lease_seconds:g} must exceed "
                f"TS_LEASE_SAFETY_SECONDS ({self.lease_safety_seconds:g})"
            )
        if self.leadership == "kubernetes" and not self.lease_namespace:
            raise ValueError("TS_LEASE_NAMESPACE: required when TS_LEADERSHIP is kubernetes")
        return self

    @property
    def lease_object(self) -> str:
        """The Kubernetes Lease's name."""
        return self.lease_name or f"tradingstack-{self.kind}"
