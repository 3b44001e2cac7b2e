"""The main loop every worker runs: warm up, step, heartbeat, stop cleanly on SIGTERM.

A worker implements :meth:`Worker.step` (one unit of work that returns within a
heartbeat interval: one cycle, or one blocking stream read of bounded length).
The loop owns everything else: the heartbeat that /healthz reads, retries while
Redis is away, error accounting, and shutdown. On SIGTERM the current step
finishes (and acknowledges what it read), then the process exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Generic, TypeVar

import redis
from prometheus_client import CollectorRegistry

from ..keys import Keys
from . import logs
from .health import HealthServer, Heartbeat, Readiness, Routes
from .metrics import RuntimeMetrics
from .once import OnceWriter
from .redis_client import RedisUnavailable, RetryPolicy, Stopping, connect
from .settings import RuntimeSettings

log = logging.getLogger(__name__)

S = TypeVar("S", bound=RuntimeSettings)

#: Pause after a failed step, so a persistent error does not spin the CPU.
ERROR_BACKOFF_SECONDS = 1.0


@dataclass
class WorkerContext(Generic[S]):
    """Everything a worker gets from the runtime; built once per process."""

    settings: S
    redis: redis.Redis
    retry: RetryPolicy
    once: OnceWriter
    keys: Keys
    registry: CollectorRegistry
    stop: threading.Event
    readiness: Readiness
    heartbeat: Heartbeat
    clock: Callable[[], float] = time.time


class Worker(ABC, Generic[S]):
    """Base class of every worker kind."""

    #: Seconds between the starts of two steps; 0 runs steps back to back
    #: (stream workers, whose step blocks on a bounded read).
    cycle_seconds: float = 0.0

    def __init__(self, ctx: WorkerContext[S]) -> None:
        self.ctx = ctx

    def warm_up(self) -> None:
        """Load state before the first step (e.g. persisted buffers). Retried until it works."""

    @abstractmethod
    def step(self) -> None:
        """One unit of work; must return within a heartbeat interval."""

    def close(self) -> None:
        """Release what the worker holds, after its last step."""


def pause(stop: threading.Event, heartbeat: Heartbeat, seconds: float, *, step: float) -> bool:
    """Wait ``seconds`` without letting the heartbeat go stale (a beat at least every
    ``step`` seconds); wake at once on ``stop``. False when stopping, True otherwise."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        stop.wait(min(left, step))
        heartbeat.beat()
    return False


def build_context(
    settings: S, registry: CollectorRegistry, metrics: RuntimeMetrics, stop: threading.Event
) -> WorkerContext[S]:
    heartbeat = Heartbeat(on_beat=metrics.heartbeat.set)
    client = connect(settings)
    probe = connect(settings, socket_timeout=1.0)
    retry = RetryPolicy(
        budget_seconds=settings.redis_retry_budget_seconds,
        stop=stop,
        on_wait=heartbeat.beat,
        on_retry=metrics.redis_retries.inc,
    )
    keys = Keys(settings.key_prefix)
    return WorkerContext(
        settings=settings,
        redis=client,
        retry=retry,
        once=OnceWriter(
            client,
            retry,
            keys.prefix,
            replicas=settings.write_replicas,
            replica_timeout_ms=settings.redis_write_replica_timeout_ms,
        ),
        keys=keys,
        registry=registry,
        stop=stop,
        readiness=Readiness(probe.ping, on_result=metrics.ready.set),
        heartbeat=heartbeat,
    )


class _Loop(Generic[S]):
    def __init__(self, worker: Worker[S], metrics: RuntimeMetrics) -> None:
        self.worker = worker
        self.ctx = worker.ctx
        self.metrics = metrics

    def wait(self, seconds: float) -> None:
        """Sleep without letting the heartbeat go stale; wake at once on stop."""
        beat_every = self.ctx.settings.heartbeat_interval_seconds / 2
        pause(self.ctx.stop, self.ctx.heartbeat, seconds, step=beat_every)

    def attempt(self, action: Callable[[], None], name: str) -> bool:
        """Run warm-up or a step; log and count a failure instead of dying."""
        started = time.monotonic()
        try:
            action()
        except Stopping:
            return False
        except RedisUnavailable as exc:
            log.error("redis unavailable", extra={"phase": name, "error": str(exc)})
            self.metrics.step_errors.labels(
                kind=self.ctx.settings.kind, error="RedisUnavailable"
            ).inc()
            self.wait(ERROR_BACKOFF_SECONDS)
            return False
        except Exception as exc:
            log.exception("step failed", extra={"phase": name})
            self.metrics.step_errors.labels(
                kind=self.ctx.settings.kind, error=type(exc).__name__
            ).inc()
            self.wait(ERROR_BACKOFF_SECONDS)
            return False
        self.metrics.step_duration.observe(time.monotonic() - started)
        return True

    def run(self) -> None:
        while not self.ctx.stop.is_set() and not self.ctx.readiness.warm.is_set():
            self.ctx.heartbeat.beat()
            if self.attempt(self.worker.warm_up, "warm_up"):
                self.ctx.readiness.warm.set()
                log.info("warmed up")
        while not self.ctx.stop.is_set():
            started = time.monotonic()
            self.ctx.heartbeat.beat()
            if self.attempt(self.worker.step, "step"):
                self.metrics.steps.inc()
            self.ctx.heartbeat.beat()
            self.wait(self.worker.cycle_seconds - (time.monotonic() - started))


def _give_up(grace: float) -> None:
    # The step outlived the grace period; the kubelet would SIGKILL us now anyway.
    # Unacknowledged stream entries are redelivered, so nothing is lost.
    log.error("shutdown grace period exceeded, exiting", extra={"grace_seconds": grace})
    logging.shutdown()
    os._exit(1)


def _install_signals(stop: threading.Event, grace: float) -> None:
    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("second signal: exiting at once", extra={"signal": signum})
            raise SystemExit(1)
        log.info("stopping: finishing the current step", extra={"signal": signum})
        stop.set()
        timer = threading.Timer(grace, _give_up, args=[grace])
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def run_worker(
    factory: Callable[[WorkerContext[S]], Worker[S]],
    settings: S,
    *,
    install_signals: bool = True,
    on_started: Callable[[HealthServer], None] = lambda _: None,
    routes: Callable[[WorkerContext[S]], Routes] | None = None,
) -> int:
    """Run a worker until SIGTERM; return the process exit code.

    ``routes`` builds extra HTTP routes from the context, served on the health port.
    """
    logs.configure(settings.log_level, {"kind": settings.kind, "instance": settings.instance})
    stop = threading.Event()
    if install_signals:
        _install_signals(stop, settings.shutdown_grace_seconds)
    registry = CollectorRegistry()
    metrics = RuntimeMetrics.create(registry, settings.kind)
    ctx = build_context(settings, registry, metrics, stop)
    server = HealthServer(
        host=settings.http_host,
        port=settings.http_port,
        heartbeat=ctx.heartbeat,
        liveness_timeout=settings.liveness_timeout,
        readiness=ctx.readiness,
        registry=registry,
        routes=routes(ctx) if routes is not None else None,
    )
    server.start()
    log.info("started", extra={"http_port": server.port})
    on_started(server)
    worker = factory(ctx)
    loop = _Loop(worker, metrics)
    try:
        loop.run()
    finally:
        worker.close()
        server.stop()
        ctx.redis.close()
    log.info("stopped cleanly")
    return 0
