"""Active-standby: which instance may write (trade an account, publish budgets or cluster
state), and the fencing epoch its writes carry."""

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes
from .backend import leadership
from .base import Leadership, LeadershipUnavailable, Lease, unique_holder
from .fence import EpochFence
from .redis_lease import RedisLease
from .settings import LeaderSettings

if TYPE_CHECKING:
    from .kubernetes_lease import KubernetesLease


# The Kubernetes client costs a worker about 30 MB resident (issue #18: 80 MB each):
# it is imported when a Kubernetes Lease is used, not by every singleton and bot.
__getattr__ = lazy_attributes(__name__, {"KubernetesLease": ".kubernetes_lease"})


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
