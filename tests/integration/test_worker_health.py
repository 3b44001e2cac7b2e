"""Liveness, readiness and shutdown of a real worker process against real Redis."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from tests.conftest import TEST_PASSWORD
from tests.harness.market import metric_values
from tests.harness.processes import DEADLINE, WorkerProcess, sample_worker, worker_env
from tests.harness.redis_procs import RedisProcess, redis_server, wait_for

pytestmark = pytest.mark.integration

#: Heartbeat interval: the liveness timeout is 1.5 of it, long enough that a scheduler
#: stall on a loaded machine does not pass for a stuck loop.
INTERVAL = 2.0


def env_for(server: RedisProcess, **extra: str) -> dict[str, str]:
    return worker_env(
        f"redis://127.0.0.1:{server.port}/0",
        TEST_PASSWORD,
        **{"TS_HEARTBEAT_INTERVAL_SECONDS": str(INTERVAL), **extra},
    )


@pytest.fixture
def worker(redis_proc: RedisProcess) -> Iterator[WorkerProcess]:
    process = sample_worker(env_for(redis_proc))
    yield process
    process.stop()


def counter(server: RedisProcess, name: str) -> int:
    return int(server.client().get(f"quantum:sample:{name}") or 0)


def test_healthz_turns_503_once_a_stuck_loops_heartbeat_outlives_the_liveness_timeout(
    worker: WorkerProcess,
) -> None:
    wait_for(lambda: worker.get("/readyz")[0] == 200, DEADLINE, "ready")
    code, body = worker.get("/healthz")
    assert code == 200
    assert body["liveness_timeout_seconds"] == 1.5 * INTERVAL

    worker.proc.send_signal(signal.SIGUSR1)  # the next step never returns
    wait_for(lambda: worker.get("/healthz")[0] == 503, DEADLINE, "healthz 503")
    code, body = worker.get("/healthz")
    assert code == 503
    assert body["status"] == "stale heartbeat"
    # Judged on the heartbeat's own clock (how soon: bench/worker_lifecycle.py).
    assert body["heartbeat_age_seconds"] >= body["liveness_timeout_seconds"]
    assert worker.proc.poll() is None  # stuck, not dead: only the probe can tell


def metric(worker: WorkerProcess, name: str) -> float:
    [value] = [float(v) for k, v in metric_values(worker).items() if k.split("{")[0] == name]
    return value


def test_healthz_stays_up_while_redis_is_down_and_readyz_follows_redis(
    redis_proc: RedisProcess, worker: WorkerProcess
) -> None:
    wait_for(lambda: worker.get("/readyz")[0] == 200, DEADLINE, "ready")
    redis_proc.stop()

    # The loop waits for Redis in its retry policy and beats between attempts.
    retries = metric(worker, "tradingstack_worker_redis_retries_total")
    beats: set[float] = set()

    def beating_and_live() -> bool:
        assert worker.get("/healthz")[0] == 200
        beats.add(metric(worker, "tradingstack_worker_heartbeat_timestamp_seconds"))
        return (
            len(beats) > 10 and metric(worker, "tradingstack_worker_redis_retries_total") > retries
        )

    wait_for(beating_and_live, DEADLINE, "ten beats while Redis is down")
    code, body = worker.get("/readyz")
    assert code == 503
    assert body["redis"].startswith("unreachable")

    restarted = redis_server(
        redis_proc.workdir, password=TEST_PASSWORD, port=redis_proc.port
    ).start()
    try:
        wait_for(lambda: worker.get("/readyz")[0] == 200, DEADLINE, "ready again")
        before = counter(restarted, "done")
        wait_for(lambda: counter(restarted, "done") > before + 3, DEADLINE, "steps to resume")
        assert worker.get("/healthz")[0] == 200
    finally:
        restarted.stop()


def test_sigterm_finishes_the_current_step_and_exits_zero(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    hold = "quantum:sample:hold"
    client.set(hold, "1")  # the first step begins, then waits for the test
    process = sample_worker(env_for(redis_proc, TS_SHUTDOWN_GRACE_SECONDS=str(2 * DEADLINE)))
    try:
        wait_for(lambda: counter(redis_proc, "begun") == 1, DEADLINE, "a step to begin")
        process.proc.send_signal(signal.SIGTERM)
        process.wait_log("stopping: finishing the current step")
        assert process.proc.poll() is None  # the step in hand is not abandoned...
        assert counter(redis_proc, "done") == 0
        client.delete(hold)  # ...it finishes once let go, and then the process exits
        code = process.proc.wait(timeout=DEADLINE)
    finally:
        process.stop()
    assert code == 0
    assert (counter(redis_proc, "begun"), counter(redis_proc, "done")) == (1, 1)  # no new step
    process.wait_log("stopped cleanly")


def test_metrics_endpoint_serves_runtime_metrics(worker: WorkerProcess) -> None:
    wait_for(lambda: worker.get("/readyz")[0] == 200, DEADLINE, "ready")
    text = worker.metrics()
    assert 'tradingstack_worker_steps_total{kind="sample"}' in text
    assert "tradingstack_worker_heartbeat_timestamp_seconds" in text
    assert worker.get("/nope")[0] == 404
