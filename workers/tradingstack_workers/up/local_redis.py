"""The stack's Redis on loopback: one server, or master + replicas + sentinels."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from tradingstack_operator.render.env import WORKER_USER
from tradingstack_operator.render.redis_scripts import WORKER_SENTINEL_RULES, worker_server_rules
from tradingstack_operator.render.stack import Stack

from ..password import read_password
from .plan import Redis
from .redis_procs import (
    MASTER_NAME,
    AclUser,
    RedisProcess,
    SentinelCluster,
    SentinelTimings,
    SetConfig,
    start_sentinel_cluster,
)
from .spawn import Tether

PASSWORD_FILE = "redis-password"
#: The ``worker`` ACL user's password: the local stand-in for that key of the pods'
#: ``<stack>-redis-users`` Secret.
WORKER_PASSWORD_FILE = "redis-worker-password"


def password_file(data_dir: Path, name: str = PASSWORD_FILE) -> Path:
    """The local stand-in for a password Secret: generated once, readable by its owner only."""
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
    return path


@dataclass
class LocalRedis:
    """What ``up`` started for Redis, and how workers reach it: as the ``worker`` ACL
    user, with the pods' rights (``worker_secret``); ``secret`` is the admin password,
    for ``up`` itself and the CLI."""

    servers: list[RedisProcess]
    sentinels: list[RedisProcess]
    secret: Path
    worker_secret: Path
    config: SetConfig  # how each process is rebuilt on a restart

    @property
    def endpoint(self) -> Redis:
        """How the workers reach Redis (as the ``worker`` user)."""
        if self.sentinels:
            sentinels = tuple(("127.0.0.1", s.port) for s in self.sentinels)
            return Redis(None, sentinels, self.worker_secret, WORKER_USER)
        url = f"redis://127.0.0.1:{self.servers[0].port}/0"
        return Redis(url, (), self.worker_secret, WORKER_USER)

    def master(self) -> str | None:
        """``host:port`` of the master as the sentinels report it, or None.

        redis-py's own discovery: it skips a sentinel that sees the master down (sdown
        or odown) or no longer flagged master, which is what a view of a failover needs.
        """
        if not self.sentinels:
            return f"127.0.0.1:{self.servers[0].port}"
        password = read_password(self.secret)
        sentinel = Sentinel(
            [("127.0.0.1", s.port) for s in self.sentinels],
            # No retries: a dead sentinel must cost one refused connect, not redis-py's
            # default back-off, or ``up``'s loop stalls for seconds while one is down.
            sentinel_kwargs={
                "password": password,
                "socket_timeout": 0.5,
                "socket_connect_timeout": 0.5,
                "retry": Retry(NoBackoff(), 0),
            },
        )
        try:
            host, port = sentinel.discover_master(MASTER_NAME)
        except redis.RedisError:  # MasterNotFoundError: none answers with a usable master
            return None
        finally:
            for client in sentinel.sentinels:
                client.close()
        return f"{host}:{port}"

    def pids(self) -> list[int]:
        return [p.pid for p in [*self.servers, *self.sentinels] if p.proc is not None]

    def stop(self) -> None:
        """Sentinels first (no failover while the servers go), then the servers."""
        for process in [*self.sentinels, *self.servers]:
            process.stop()


def planned_endpoint(stack: Stack, data_dir: Path) -> Redis:
    """How the workers will reach the Redis :func:`start` makes, before it runs: the same
    shape (one server, or as many sentinels), ports not known yet (1), no file read."""
    secret = data_dir / WORKER_PASSWORD_FILE
    if stack.spec.redis.sentinel_enabled:
        return Redis(None, (("127.0.0.1", 1),) * stack.spec.redis.replicas, secret, WORKER_USER)
    return Redis("redis://127.0.0.1:1/0", (), secret, WORKER_USER)


def start(
    stack: Stack, data_dir: Path, ports: Callable[[], int], tether: Tether | None = None
) -> LocalRedis:
    """Start Redis as ``spec.redis`` asks, data under ``data_dir/redis``; every process
    bound to ``up`` by ``tether``."""
    spec = stack.spec.redis
    secret = password_file(data_dir)
    password = read_password(secret)
    worker_secret = password_file(data_dir, WORKER_PASSWORD_FILE)
    worker_password = read_password(worker_secret)
    # The pods' worker user, with the pods' rights: a worker that needs more than they
    # allow fails here, on one machine, before it fails in a cluster.
    server_users = [
        AclUser(WORKER_USER, worker_password, worker_server_rules(stack.spec.key_prefix))
    ]
    workdir = data_dir / "redis"
    if not spec.sentinel_enabled:
        config = SetConfig(workdir, password, persist=True, server_users=server_users,
                           tether=tether)  # fmt: skip
        server = config.server(0, ports(), None).start()
        return LocalRedis([server], [], secret, worker_secret, config)
    sentinel = spec.sentinel
    cluster: SentinelCluster = start_sentinel_cluster(
        workdir,
        replicas=spec.replicas - 1,
        sentinels=spec.replicas,  # one sentinel beside each server, as in the StatefulSet
        password=password,
        quorum=sentinel.quorum,
        timings=SentinelTimings(
            down_after_ms=sentinel.down_after_milliseconds,
            failover_timeout_ms=sentinel.failover_timeout_milliseconds,
            parallel_syncs=sentinel.parallel_syncs,
        ),
        ports=ports,
        persist=True,
        server_users=server_users,
        sentinel_users=[AclUser(WORKER_USER, worker_password, WORKER_SENTINEL_RULES)],
        tether=tether,
    )
    return LocalRedis(cluster.nodes, cluster.sentinels, secret, worker_secret, cluster.config)
