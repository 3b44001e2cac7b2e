"""Active-standby: which instance may write (trade an account, publish budgets or cluster
state), and the fencing epoch its writes carry."""

from .backend import leadership
from .base import Leadership, LeadershipUnavailable, Lease, unique_holder
from .fence import EpochFence
from .kubernetes_lease import KubernetesLease
from .redis_lease import RedisLease
from .settings import LeaderSettings

__all__ = [
    "EpochFence",
    "KubernetesLease",
    "LeaderSettings",
    "Leadership",
    "LeadershipUnavailable",
    "Lease",
    "RedisLease",
    "leadership",
    "unique_holder",
]
