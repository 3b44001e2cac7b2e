"""The stack's Redis on loopback: one server, or master + replicas + sentinels."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.sentinel import Sentinel

from tradingstack_operator.render.stack import Stack

from ..password import read_password
from .plan import Redis
from .redis_procs import (
    MASTER_NAME,
    RedisProcess,
    SentinelCluster,
    SentinelTimings,
    redis_server,
    start_sentinel_cluster,
)

PASSWORD_FILE = "redis-password"


def password_file(data_dir: Path) -> Path:
    """The local stand-in for the auth Secret: generated once, readable by its owner only."""
    path = data_dir / PASSWORD_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
    return path


@dataclass
class LocalRedis:
    """What ``up`` started for Redis, and how workers reach it."""

    servers: list[RedisProcess]
    sentinels: list[RedisProcess]
    secret: Path

    @property
    def endpoint(self) -> Redis:
        if self.sentinels:
            return Redis(None, tuple(("127.0.0.1", s.port) for s in self.sentinels), self.secret)
        return Redis(f"redis://127.0.0.1:{self.servers[0].port}/0", (), self.secret)

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
            sentinel_kwargs={"password": password, "socket_timeout": 0.5},
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


def start(stack: Stack, data_dir: Path, ports: Callable[[], int]) -> LocalRedis:
    """Start Redis as ``spec.redis`` asks, data under ``data_dir/redis``."""
    spec = stack.spec.redis
    secret = password_file(data_dir)
    password = read_password(secret)
    workdir = data_dir / "redis"
    if not spec.sentinel_enabled:
        server = redis_server(workdir / "node-0", password=password, port=ports(), persist=True)
        return LocalRedis([server.start()], [], secret)
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
    )
    return LocalRedis(cluster.nodes, cluster.sentinels, secret)
