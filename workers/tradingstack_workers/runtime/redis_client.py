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
from typing import Any, TypeVar

import redis
from redis._parsers.base import BaseParser
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, ReadOnlyError, ResponseError, TryAgainError
from redis.retry import Retry

from .sentinel import AgreeingSentinel
from .settings import RuntimeSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


class NoReplicasError(ResponseError):
    """The master refused a write: too few replicas in reach (``min-replicas-to-write``).

    Nothing was written; a master just promoted, or one cut off from its replicas,
    answers so until its replicas are back, so it is retried like a failover.
    """


# redis-py turns an error reply into the class registered for its first word, and knows
# no NOREPLICAS (it would be a plain ResponseError, indistinguishable from a bug).
BaseParser.EXCEPTION_CLASSES.setdefault("NOREPLICAS", NoReplicasError)

#: Errors a failover or a restart produces; anything else is a real error.
TRANSIENT: tuple[type[Exception], ...] = (
    redis.ConnectionError,  # includes sentinel's MasterNotFoundError
    redis.TimeoutError,
    BusyLoadingError,
    ReadOnlyError,
    TryAgainError,
    NoReplicasError,
)


#: How every client of the workers decodes replies (see :func:`connect`).
ENCODING_ERRORS = "surrogateescape"


class RedisUnavailable(Exception):
    """Redis stayed unreachable for the whole retry budget."""


class Stopping(Exception):  # a signal to unwind, not a failure
    """The worker was asked to stop while waiting for Redis."""


def _tls(settings: RuntimeSettings) -> dict[str, Any]:
    if settings.redis_tls_ca_file is None:
        return {}
    return {"ssl": True, "ssl_ca_certs": str(settings.redis_tls_ca_file)}


def connect(settings: RuntimeSettings, *, socket_timeout: float | None = None) -> redis.Redis:
    """A client for the current master; with Sentinel it follows failovers by itself.

    With Sentinel, a master is used only when ``TS_REDIS_SENTINEL_QUORUM`` sentinels
    agree on it (:class:`AgreeingSentinel`).
    """
    timeout = socket_timeout or settings.redis_socket_timeout_seconds
    auth = {"username": settings.redis_username, "password": settings.password()}
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
        **auth,
        **_tls(settings),
    }
    if settings.redis_sentinels:
        sentinel = AgreeingSentinel(
            list(settings.redis_sentinels),
            settings.sentinel_quorum,
            sentinel_kwargs={
                **auth,
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                # No retries here either: a dead sentinel must cost one timeout, not
                # redis-py's default back-off, while the live ones already agree.
                "retry": Retry(NoBackoff(), 0),
                **_tls(settings),
            },
        )
        client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            settings.redis_master_name, db=settings.redis_db, **common
        )
        return client
    url = settings.redis_url or "redis://127.0.0.1:6379/0"
    return redis.Redis.from_url(url, db=settings.redis_db, **common)


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
                        f"{what}: Redis unreachable for {self.budget_seconds:g} s"
                        f" ({type(exc).__name__}: {exc})"
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
