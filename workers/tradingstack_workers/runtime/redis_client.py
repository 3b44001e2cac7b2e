"""Redis for workers: direct or through Sentinel, retried within a time budget.

redis-py's own retries are switched off: it resends a command after a timeout
even when the server already applied it, so an INCR retried across a failover
can count twice. Retrying lives in :class:`RetryPolicy` instead, which only
re-runs what is safe to re-run: reads, whole-value writes, and the
exactly-once writes of :mod:`.once`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, ReadOnlyError, TryAgainError
from redis.retry import Retry
from redis.sentinel import Sentinel

from .settings import RuntimeSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Errors a failover or a restart produces; anything else is a real error.
TRANSIENT: tuple[type[Exception], ...] = (
    redis.ConnectionError,  # includes sentinel's MasterNotFoundError
    redis.TimeoutError,
    BusyLoadingError,
    ReadOnlyError,
    TryAgainError,
)


#: How every client of the workers decodes replies (see :func:`connect`).
ENCODING_ERRORS = "surrogateescape"


class RedisUnavailable(Exception):
    """Redis stayed unreachable for the whole retry budget."""


class Stopping(Exception):  # a signal to unwind, not a failure
    """The worker was asked to stop while waiting for Redis."""


def connect(settings: RuntimeSettings, *, socket_timeout: float | None = None) -> redis.Redis:
    """A client for the current master; with Sentinel it follows failovers by itself."""
    timeout = socket_timeout or settings.redis_socket_timeout_seconds
    common = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": True,
        # Bytes that are not UTF-8 arrive as lone surrogates instead of failing the whole
        # reply: each reader then refuses that one field (wire.fields.utf8_problem) and the
        # rest of the batch is decided.
        "encoding_errors": ENCODING_ERRORS,
        "health_check_interval": 10,
        "client_name": f"ts-{settings.kind}-{settings.instance}"[:60],
    }
    password = settings.password()
    if settings.redis_sentinels:
        sentinel = Sentinel(
            list(settings.redis_sentinels),
            sentinel_kwargs={
                "password": password,
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
            },
        )
        client: redis.Redis = sentinel.master_for(
            settings.redis_master_name, password=password, db=settings.redis_db, **common
        )
        return client
    url = settings.redis_url or "redis://127.0.0.1:6379/0"
    return redis.Redis.from_url(url, password=password, db=settings.redis_db, **common)


@dataclass
class RetryPolicy:
    """Re-run an idempotent Redis call until it succeeds or the budget runs out.

    ``on_wait`` runs before every pause: the worker beats its heartbeat there,
    because a loop waiting out a failover is alive and must not be restarted.
    """

    budget_seconds: float
    stop: threading.Event = field(default_factory=threading.Event)
    on_wait: Callable[[], None] = lambda: None
    on_retry: Callable[[], None] = lambda: None
    clock: Callable[[], float] = time.monotonic
    first_delay: float = 0.05
    max_delay: float = 0.5

    def run(self, call: Callable[[], T], what: str) -> T:
        deadline = self.clock() + self.budget_seconds
        delay = self.first_delay
        failures = 0
        while True:
            try:
                result = call()
            except TRANSIENT as exc:
                failures += 1
                if self.clock() + delay > deadline:
                    raise RedisUnavailable(
                        f"{what}: Redis unreachable for {self.budget_seconds:g} s ({exc})"
                    ) from exc
                if failures == 1:
                    log.warning(
                        "redis call failed, retrying", extra={"call": what, "error": str(exc)}
                    )
                self.on_retry()
                self.on_wait()
                if self.stop.wait(delay):
                    raise Stopping(what) from exc
                delay = min(delay * 2, self.max_delay)
            else:
                if failures:
                    log.info("redis call recovered", extra={"call": what, "failures": failures})
                return result
