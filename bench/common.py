"""The benchmark convention: one JSON object per result, each beside its same-run baseline."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from tradingstack_workers.runtime import logs
from tradingstack_workers.runtime.loop import Worker, WorkerContext, build_context
from tradingstack_workers.runtime.metrics import RuntimeMetrics
from tradingstack_workers.runtime.settings import RuntimeSettings

S = TypeVar("S", bound=RuntimeSettings)
W = TypeVar("W", bound=Worker[Any])


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks it runs, measures nothing"
    )
    return p


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``operation`` run back to back for about ``seconds``."""
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        operation()
        count += 1
        if count % 64 == 0 and time.perf_counter() >= deadline:
            break
    return count / (time.perf_counter() - started)


def emit(
    bench: str,
    case: str,
    *,
    unit: str,
    value: float,
    baseline_case: str,
    baseline_value: float,
    **params: Any,
) -> None:
    """Print one result; ``ratio`` is value / baseline, the figure comparable across machines."""
    json.dump(
        {
            "bench": bench,
            "case": case,
            "unit": unit,
            "value": round(value, 3),
            "baseline": {"case": baseline_case, "value": round(baseline_value, 3)},
            "ratio": round(value / baseline_value, 4) if baseline_value else None,
            "params": params,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    sys.stdout.flush()


@contextmanager
def in_process_worker(
    factory: Callable[[WorkerContext[S]], W], settings: S
) -> Iterator[tuple[WorkerContext[S], W]]:
    """A real worker in this process, warmed up, its logs silenced so they cost nothing;
    on the way out stopped and closed as ``run_worker`` does, and the root logger given
    back its handlers (else they would write to the closed sink: every later record in
    this process, a test's or a library thread's, would print 'Logging error')."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with open(os.devnull, "w") as sink:
        logs.configure("INFO", {"kind": settings.kind}, stream=sink)
        registry = CollectorRegistry()
        metrics = RuntimeMetrics.create(registry, settings.kind)
        ctx = build_context(settings, registry, metrics, threading.Event())
        try:
            worker = factory(ctx)
            worker.warm_up()
            try:
                yield ctx, worker
            finally:
                ctx.stop.set()  # a stopping worker retries nothing on its way out
                worker.close()
        finally:
            ctx.redis.close()
            root.handlers[:] = handlers
            root.setLevel(level)
