"""Liveness, readiness and shutdown of a real worker process against real Redis."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest
from tests.conftest import TEST_PASSWORD
from tests.harness.processes import WorkerProcess, sample_worker, worker_env
from tests.harness.redis_procs import RedisProcess, redis_server, wait_for

pytestmark = pytest.mark.integration

INTERVAL = 0.5


def env_for(server: RedisProcess, **extra: str) -> dict[str, str]:
    return worker_env(
        f"redis://127.0.0.1:{server.port}/0",
        TEST_PASSWORD,
        TS_HEARTBEAT_INTERVAL_SECONDS=str(INTERVAL),
        **extra,
    )


@pytest.fixture
def worker(redis_proc: RedisProcess) -> Iterator[WorkerProcess]:
    process = sample_worker(env_for(redis_proc))
    yield process
    process.stop()


def counter(server: RedisProcess, name: str) -> int:
    return int(server.client().get(f"quantum:sample:{name}") or 0)


def test_healthz_fails_within_two_intervals_when_the_loop_is_stuck(
    worker: WorkerProcess,
) -> None:
    wait_for(lambda: worker.get("/readyz")[0] == 200, 10, "ready")
    assert worker.get("/healthz")[0] == 200

    stuck_at = time.monotonic()
    worker.proc.send_signal(signal.SIGUSR1)
    wait_for(lambda: worker.get("/healthz")[0] == 503, 4 * INTERVAL, "healthz 503")
    took = time.monotonic() - stuck_at
    print(f"\n/healthz turned 503 {took:.2f} s after the loop got stuck")
    assert took <= 2 * INTERVAL
    code, body = worker.get("/healthz")
    assert code == 503
    assert body["status"] == "stale heartbeat"


def test_healthz_stays_up_while_redis_is_down_and_readyz_follows_redis(
    redis_proc: RedisProcess, worker: WorkerProcess
) -> None:
    wait_for(lambda: worker.get("/readyz")[0] == 200, 10, "ready")
    redis_proc.stop()

    deadline = time.monotonic() + 4 * INTERVAL
    while time.monotonic() < deadline:
        assert worker.get("/healthz")[0] == 200
        time.sleep(0.05)
    code, body = worker.get("/readyz")
    assert code == 503
    assert body["redis"].startswith("unreachable")

    restarted = redis_server(
        redis_proc.workdir, password=TEST_PASSWORD, port=redis_proc.port
    ).start()
    try:
        wait_for(lambda: worker.get("/readyz")[0] == 200, 10, "ready again")
        before = counter(restarted, "done")
        wait_for(lambda: counter(restarted, "done") > before + 3, 10, "steps to resume")
        assert worker.get("/healthz")[0] == 200
    finally:
        restarted.stop()


def test_sigterm_finishes_the_current_step_and_exits_zero(redis_proc: RedisProcess) -> None:
    process = sample_worker(env_for(redis_proc, TS_STEP_SECONDS="1.0"))
    try:
        wait_for(lambda: counter(redis_proc, "begun") >= 1, 10, "a step to begin")
        signalled = time.monotonic()
        process.proc.send_signal(signal.SIGTERM)
        code = process.proc.wait(timeout=10)
        took = time.monotonic() - signalled
    finally:
        process.stop()
    assert code == 0
    assert counter(redis_proc, "begun") == counter(redis_proc, "done")
    assert took < 2.0
    process.wait_log("stopped cleanly")


def test_metrics_endpoint_serves_runtime_metrics(worker: WorkerProcess) -> None:
    wait_for(lambda: worker.get("/readyz")[0] == 200, 10, "ready")
    text = worker.metrics()
    assert 'tradingstack_worker_steps_total{kind="sample"}' in text
    assert "tradingstack_worker_heartbeat_timestamp_seconds" in text
    assert worker.get("/nope")[0] == 404
