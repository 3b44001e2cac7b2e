"""The retry policy: transient errors retried within the budget, others not at all."""

from __future__ import annotations

import threading

import pytest
import redis

from tradingstack_workers.runtime.redis_client import RedisUnavailable, RetryPolicy, Stopping


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """Fails ``failures`` times with ``error``, then answers; advances the clock per call."""

    def __init__(self, failures: int, error: Exception, clock: FakeClock, cost: float) -> None:
        self.failures = failures
        self.error = error
        self.clock = clock
        self.cost = cost
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        self.clock.now += self.cost
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def policy(clock: FakeClock, budget: float, waits: list[int]) -> RetryPolicy:
    return RetryPolicy(
        budget_seconds=budget,
        clock=clock,
        first_delay=0.0001,
        max_delay=0.0001,
        on_wait=lambda: waits.append(1),
    )


@pytest.mark.parametrize(
    "error",
    [redis.ConnectionError("refused"), redis.TimeoutError("slow"), redis.ReadOnlyError("replica")],
)
def test_transient_errors_are_retried_and_each_wait_beats(error: Exception) -> None:
    clock, waits = FakeClock(), list[int]()
    call = Flaky(3, error, clock, cost=1.0)
    assert policy(clock, 30, waits).run(call, "get") == "ok"
    assert call.calls == 4
    assert len(waits) == 3


def test_the_budget_bounds_the_retries() -> None:
    clock, waits = FakeClock(), list[int]()
    call = Flaky(100, redis.ConnectionError("down"), clock, cost=1.0)
    with pytest.raises(RedisUnavailable, match="unreachable for 5 s"):
        policy(clock, 5, waits).run(call, "get")
    assert call.calls == 5


def test_a_real_error_is_not_retried() -> None:
    clock, waits = FakeClock(), list[int]()
    call = Flaky(1, redis.ResponseError("WRONGTYPE"), clock, cost=0)
    with pytest.raises(redis.ResponseError):
        policy(clock, 30, waits).run(call, "get")
    assert call.calls == 1


def test_stopping_interrupts_the_wait() -> None:
    stop = threading.Event()
    stop.set()
    call = Flaky(100, redis.ConnectionError("down"), FakeClock(), cost=0)
    with pytest.raises(Stopping):
        RetryPolicy(budget_seconds=30, stop=stop).run(call, "get")
    assert call.calls == 1
