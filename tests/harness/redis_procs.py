"""Real Redis processes for the tests: the same module ``tradingstack up`` runs them with."""

from tradingstack_workers.up.redis_procs import (
    MASTER_NAME,
    RedisProcess,
    SentinelCluster,
    SentinelTimings,
    free_port,
    online_replicas,
    redis_sentinel,
    redis_server,
    start_sentinel_cluster,
    wait_for,
)

__all__ = [
    "MASTER_NAME",
    "RedisProcess",
    "SentinelCluster",
    "SentinelTimings",
    "free_port",
    "online_replicas",
    "redis_sentinel",
    "redis_server",
    "start_sentinel_cluster",
    "wait_for",
]
