"""Active-standby: which bot instance may trade an account, and its fencing epoch."""

from .base import Leadership, LeadershipUnavailable, Lease, unique_holder
from .fence import EpochFence
from .kubernetes_lease import KubernetesLease
from .redis_lease import RedisLease

__all__ = [
    "EpochFence",
    "KubernetesLease",
    "Leadership",
    "LeadershipUnavailable",
    "Lease",
    "RedisLease",
    "unique_holder",
]
