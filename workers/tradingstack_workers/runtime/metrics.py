"""Metrics every worker exports, whatever its kind. Names are defined here only."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

HEARTBEAT = "tradingstack_worker_heartbeat_timestamp_seconds"
STEPS = "tradingstack_worker_steps"  # exported as ..._total
STEP_ERRORS = "tradingstack_worker_step_errors"  # exported as ..._total
STEP_DURATION = "tradingstack_worker_step_duration_seconds"
REDIS_RETRIES = "tradingstack_worker_redis_retries"  # exported as ..._total
READY = "tradingstack_worker_ready"


@dataclass(frozen=True)
class RuntimeMetrics:
    heartbeat: Gauge
    steps: Counter
    step_errors: Counter
    step_duration: Histogram
    redis_retries: Counter
    ready: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry, kind: str) -> RuntimeMetrics:
        labels = {"kind": kind}
        return cls(
            heartbeat=Gauge(
                HEARTBEAT,
                "Unix time of the main loop's last heartbeat",
                registry=registry,
                labelnames=["kind"],
            ).labels(**labels),
            steps=Counter(
                STEPS, "Main-loop steps completed", registry=registry, labelnames=["kind"]
            ).labels(**labels),
            step_errors=Counter(
                STEP_ERRORS,
                "Main-loop steps that raised, by error type",
                registry=registry,
                labelnames=["kind", "error"],
            ),
            step_duration=Histogram(
                STEP_DURATION,
                "Duration of one main-loop step",
                registry=registry,
                labelnames=["kind"],
            ).labels(**labels),
            redis_retries=Counter(
                REDIS_RETRIES,
                "Redis calls retried after a transient error",
                registry=registry,
                labelnames=["kind"],
            ).labels(**labels),
            ready=Gauge(
                READY,
                "1 when Redis answered the last probe and the worker is warm",
                registry=registry,
                labelnames=["kind"],
            ).labels(**labels),
        )
