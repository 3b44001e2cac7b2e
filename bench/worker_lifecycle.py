"""How soon a worker's liveness probe and its SIGTERM act, against the worker's own clocks.

Starts one redis-server and the sample worker (tests/harness/sample_worker.py: each step
counts ``begun``, works, counts ``done``) on loopback; every process is stopped by PID.

- ``healthz 503 after the loop is stuck``: seconds from SIGUSR1 (the next step blocks for
  good) to the first /healthz 503 seen, polled every 5 ms. Baseline: the heartbeat age the
  worker reported in that answer (its own clock; at least the liveness timeout, 1.5
  heartbeat intervals). A ratio near 1: the probe fails as soon as the heartbeat is stale.
- ``SIGTERM to exit, mid-step``: seconds from a SIGTERM sent as a step begins to the exit
  (code 0, the step finished). Baseline: a whole step, begun to done, of the same worker
  just before. A ratio near 1: shutdown costs the rest of the step and little more.

The tests assert only the behaviour (tests/integration/test_worker_health.py).
"""

from __future__ import annotations

import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.harness.processes import DEADLINE, WorkerProcess, sample_worker, worker_env
from tests.harness.redis_procs import RedisProcess, redis_server, wait_for

from bench.common import emit, parser

NAME = "worker_lifecycle"
POLL = 0.005


def start_sample(server: RedisProcess, interval: float, step: float) -> WorkerProcess:
    env = worker_env(
        f"redis://127.0.0.1:{server.port}/0",
        None,
        TS_HEARTBEAT_INTERVAL_SECONDS=str(interval),
        TS_STEP_SECONDS=str(step),
    )
    worker = sample_worker(env)
    wait_for(lambda: worker.get("/readyz")[0] == 200, DEADLINE, "sample worker ready")
    return worker


def moment(condition: Callable[[], bool]) -> float:
    """time.monotonic() of the first poll at which ``condition()`` holds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(POLL)
    return time.monotonic()


def stuck_to_503(server: RedisProcess, interval: float) -> tuple[float, float]:
    """(seconds from SIGUSR1 to the first 503, heartbeat age that 503 reported)."""
    worker = start_sample(server, interval, step=0.01)
    try:
        stuck = time.monotonic()
        worker.proc.send_signal(signal.SIGUSR1)
        answer: dict[str, float] = {}

        def unhealthy() -> bool:
            code, body = worker.get("/healthz")
            answer.update(body)
            return code == 503

        return moment(unhealthy) - stuck, float(answer["heartbeat_age_seconds"])
    finally:
        worker.stop()


def sigterm_to_exit(server: RedisProcess, step: float) -> tuple[float, float]:
    """(seconds from SIGTERM at a step's start to the exit, seconds of a whole step)."""
    client = server.client()

    def count(name: str) -> int:
        return int(client.get(f"quantum:sample:{name}") or 0)

    worker = start_sample(server, interval=max(1.0, 2 * step), step=step)
    try:
        begun = count("begun")
        started = moment(lambda: count("begun") > begun)
        done = count("done")
        whole = moment(lambda: count("done") > done) - started
        begun = count("begun")
        moment(lambda: count("begun") > begun)
        signalled = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        code = worker.proc.wait(timeout=DEADLINE)
        took = time.monotonic() - signalled
        if code != 0:
            raise RuntimeError(f"the sample worker exited {code}")
        return took, whole
    finally:
        worker.stop()


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    rounds = 1 if args.quick else 5
    interval = 0.2 if args.quick else 1.0
    step = 0.2 if args.quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        server = redis_server(Path(tmp) / "redis").start()
        try:
            stuck = [stuck_to_503(server, interval) for _ in range(rounds)]
            emit(
                NAME,
                "healthz 503 after the loop is stuck",
                unit="s",
                value=statistics.median(took for took, _ in stuck),
                baseline_case="heartbeat age in that 503",
                baseline_value=statistics.median(age for _, age in stuck),
                heartbeat_interval_s=interval,
                liveness_timeout_s=1.5 * interval,
                rounds=rounds,
            )
            stops = [sigterm_to_exit(server, step) for _ in range(rounds)]
            emit(
                NAME,
                "SIGTERM to exit, mid-step",
                unit="s",
                value=statistics.median(took for took, _ in stops),
                baseline_case="one whole step",
                baseline_value=statistics.median(whole for _, whole in stops),
                step_s=step,
                rounds=rounds,
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
