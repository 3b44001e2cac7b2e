"""The clusters worker as a real process against real Redis.

Timing is made deterministic by the data, not by sleeps: the test writes one set of
snapshots, waits (polling) until the worker has appended that point to every
symbol's persisted history, and only then writes the next.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import numpy as np
import pytest
import redis
from tests.conftest import TEST_PASSWORD
from tests.harness.market import (
    POINTS,
    THRESHOLD,
    feed,
    history_len,
    independent_state,
    latest_audit,
    metric_values,
    price_paths,
    write_snapshots,
)
from tests.harness.processes import DEADLINE, WorkerProcess, start_worker, worker_env
from tests.harness.redis_procs import RedisProcess, wait_for
from tests.harness.streams import in_process
from threadpoolctl import threadpool_info, threadpool_limits

from tradingstack_workers.clusters.book import PriceBook
from tradingstack_workers.clusters.history import HistoryStore
from tradingstack_workers.clusters.settings import ClustersSettings
from tradingstack_workers.clusters.worker import ClustersWorker
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.fencing import FencedWriter
from tradingstack_workers.runtime.redis_client import RetryPolicy

pytestmark = pytest.mark.integration

KEYS = Keys()


def env_for(server: RedisProcess, **extra: str) -> dict[str, str]:
    return worker_env(
        f"redis://127.0.0.1:{server.port}/0",
        TEST_PASSWORD,
        TS_INTERVAL_SECONDS="0.2",
        TS_CORRELATION_THRESHOLD=str(THRESHOLD),
        # Nobody rewrites the snapshots while the worker restarts here: at 0.2 s cycles
        # the default (5 intervals) would rightly call every feed frozen by then.
        TS_FROZEN_AFTER_SECONDS="3600",
        # A short lease: after a kill -9 the restarted singleton waits it out before leading.
        TS_LEASE_SECONDS="2",
        TS_LEASE_SAFETY_SECONDS="0.5",
        **extra,
    )


def clusters_worker(server: RedisProcess) -> WorkerProcess:
    return start_worker("clusters", env_for(server))


@pytest.fixture
def worker(redis_proc: RedisProcess) -> Iterator[WorkerProcess]:
    process = clusters_worker(redis_proc)
    yield process
    process.stop()


def test_clusters_match_an_independent_computation_and_survive_a_restart(
    redis_proc: RedisProcess, worker: WorkerProcess
) -> None:
    paths = price_paths()
    wait_for(lambda: worker.get("/readyz")[0] == 200, DEADLINE, "ready")
    feed(redis_proc, paths)
    wait_for(lambda: latest_audit(redis_proc).get("points") == str(POINTS), DEADLINE, "full update")

    count, stress = independent_state(paths)
    state = redis_proc.client().hgetall(KEYS.cluster_state)
    assert count == 2
    assert int(state["clusters_count"]) == count
    assert float(state["cluster_stress"]) == pytest.approx(stress, rel=1e-9, abs=1e-12)
    assert 0 < stress < 1
    assert json.loads(latest_audit(redis_proc)["clusters"]) == [["AAA", "BBB"], ["CCC"]]
    values = metric_values(worker)
    assert values["p27_corr_ready"] == 1
    assert values["p27_symbols_in_matrix"] == 3
    assert values["p27_clusters_count"] == 2
    assert values["p27_cluster_stress_sum"] == pytest.approx(stress, rel=1e-9)
    assert values['p27_points_per_symbol{symbol="AAA"}'] == POINTS
    assert values["p27_min_points_per_symbol"] == POINTS
    # Warm-up (too short) cycles failed closed and were counted; nothing else did.
    failed = {k: v for k, v in values.items() if k.startswith("p27_fail_closed_total")}
    assert set(failed) == {'p27_fail_closed_total{reason="too_short"}'}

    worker.stop()  # SIGKILL: no chance to save anything on the way out
    restarted = clusters_worker(redis_proc)
    try:
        first = restarted.wait_log("cycle")
        assert first["cycle"] == 1
        assert first["outcome"] == "updated", first
        assert first["points"] == POINTS
        values = metric_values(restarted)
        assert values["p27_corr_ready"] == 1
        assert values["p27_min_points_per_symbol"] == POINTS
        assert values["p27_updates_total"] >= 1
        assert not any(k.startswith("p27_fail_closed_total") for k in values)
    finally:
        restarted.stop()


def test_malformed_snapshots_are_counted_and_skipped_while_the_loop_runs(
    redis_proc: RedisProcess, worker: WorkerProcess
) -> None:
    good = {"position_amt": "1", "mark_price": "100", "ts_epoch": "1769000000"}
    write_snapshots(
        redis_proc,
        {
            "GOOD": good,
            "TEXTPRICE": {**good, "mark_price": "one hundred"},
            "NOTS": {"position_amt": "1", "mark_price": "100"},
            "BLANK": {**good, "position_amt": ""},
        },
    )
    redis_proc.client().set(KEYS.snapshot("NOTAHASH"), "oops")
    redis_proc.client().sadd(KEYS.snapshot_index, "NOTAHASH")

    def skipped(values: dict[str, float], reason: str) -> float:
        return values.get(f'p27_snapshots_skipped_total{{reason="{reason}"}}', 0.0)

    def counted_twice() -> bool:
        values = metric_values(worker)
        return all(
            skipped(values, reason) >= 2 for reason in ("not_a_number", "missing", "bad_format")
        )

    wait_for(counted_twice, DEADLINE, "malformed snapshots counted over several cycles")
    values = metric_values(worker)
    # Counted by the wire contract's faults: NOTS and BLANK miss a value, TEXTPRICE has
    # text for a number, NOTAHASH is a string key (every cycle, all in one read).
    assert skipped(values, "missing") == 2 * skipped(values, "not_a_number")
    assert skipped(values, "bad_format") == skipped(values, "not_a_number")
    before = values["p27_updates_total"]
    wait_for(
        lambda: metric_values(worker)["p27_updates_total"] >= before + 3, DEADLINE, "more cycles"
    )
    values = metric_values(worker)
    assert not any(k.startswith("tradingstack_worker_step_errors_total") for k in values)
    assert values["p27_symbols_in_matrix"] == 1  # GOOD alone: one position, no pair
    assert values["p27_cluster_stress_sum"] == 0
    # The state is published, but no correlation was computed (review D4).
    assert values["p27_corr_ready"] == 0
    assert history_len(redis_proc, "GOOD") == 1
    assert history_len(redis_proc, "TEXTPRICE") == 0
    assert worker.proc.poll() is None


def fenced_writer(client: redis.Redis) -> FencedWriter:
    scope = KEYS.singleton_leadership("clusters")
    client.set(scope.fence, 1)
    return FencedWriter(
        client, RetryPolicy(budget_seconds=5), fence=scope.fence,
        journal=KEYS.singleton_journal("clusters"), holder="test", marker_prefix=KEYS.prefix,
    )  # fmt: skip


def test_a_retried_append_leaves_one_point_and_the_lookback_holds(
    redis_proc: RedisProcess,
) -> None:
    client = redis_proc.client()
    store = HistoryStore(client, RetryPolicy(budget_seconds=5), KEYS, lookback=3, ttl_seconds=60)
    writer = fenced_writer(client)
    t = 1_769_000_000.0
    book = PriceBook(3)
    for i in (1, 2, 2, 3, 4, 4):  # 2 and 4 are retries of one append
        book.append(["AAA", "BBB"], t + i, np.array([100.0 + i, 50.0]), np.full(2, t + i))
        writer.apply(1, "history", store.append_commands(book, t + i))
    keys, prices, _ = store.load(now=t + 4).book.window("AAA")
    assert list(keys - t) == [2.0, 3.0, 4.0]
    assert list(prices) == [102.0, 103.0, 104.0]
    assert client.zcard(KEYS.price_history) == 3  # one row per cycle, the older one dropped
    assert store.load(["BBB"], now=t + 4).book.symbols == ["BBB"]
    assert store.load(now=t + 4 + 61).book.symbols == []  # expired with the TTL
    assert 0 < client.pttl(KEYS.price_history) <= 60_000


@pytest.mark.parametrize("how", ["append each cycle", "rewrite once"])
def test_a_book_with_gaps_round_trips_through_the_rows(redis_proc: RedisProcess, how: str) -> None:
    """Symbols sampled in different cycles, more cycles than the lookback: what a
    restarted worker loads is what the running one held, point for point."""
    client = redis_proc.client()
    writer = fenced_writer(client)
    store = HistoryStore(client, RetryPolicy(budget_seconds=5), KEYS, lookback=20,
                         ttl_seconds=86_400)  # fmt: skip
    rng = np.random.default_rng(7)
    t = 1_769_000_000.0
    symbols = [f"S{i}USDT" for i in range(12)]
    book = PriceBook(20)
    for k in range(40):
        sampled = [s for s in symbols if rng.random() < 0.7]
        prices = np.exp(rng.standard_normal(len(sampled)))
        book.append(sampled, t + 60 * k, prices, t + 60 * k - rng.random(len(sampled)))
        if how == "append each cycle":
            writer.apply(1, "history", store.append_commands(book, t + 60 * k))
    if how == "rewrite once":
        writer.apply(1, "history", store.rewrite_commands(book, t + 60 * 39, ()))
    loaded = store.load(now=t + 60 * 39).book
    assert sorted(loaded.symbols) == sorted(book.symbols)
    for symbol in book.symbols:
        for got, held in zip(loaded.window(symbol), book.window(symbol), strict=True):
            assert got.tolist() == held.tolist()
    assert client.zcard(KEYS.price_history) < 40  # rows no symbol needs were dropped


def write_legacy(client: redis.Redis, points: dict[str, list[tuple[float, float]]]) -> None:
    """Histories as the worker stored them before rows: a sorted set per symbol,
    member ``"{snapshot ts}|{price}"`` at the cycle's time."""
    for symbol, pairs in points.items():
        members = {f"{key - 1.0!r}|{price!r}": key for key, price in pairs}
        client.zadd(KEYS.legacy_price_history(symbol), members)
        client.pexpire(KEYS.legacy_price_history(symbol), 86_400_000)


def test_a_history_in_the_legacy_format_loads_and_is_moved_into_rows(
    redis_proc: RedisProcess,
) -> None:
    client = redis_proc.client()
    now = time.time()
    keys = [now - 60.0 * k for k in range(30, 0, -1)]
    paths = price_paths()
    write_legacy(client, {s: list(zip(keys, paths[s][:30].tolist(), strict=True)) for s in paths})
    with in_process(ClustersWorker, ClustersSettings, redis_proc) as worker:
        assert worker.book.counts() == {"AAA": 30, "BBB": 30, "CCC": 30}
        worker.ctx.clock = lambda: now
        snapshot = {"position_amt": "1", "ts_epoch": repr(now - 1)}
        write_snapshots(
            redis_proc, {s: {**snapshot, "mark_price": repr(float(paths[s][30]))} for s in paths}
        )
        worker.cycle()
        expected = {s: worker.book.window(s) for s in paths}
    assert not list(client.scan_iter(match=KEYS.legacy_price_history_pattern))
    assert client.zcard(KEYS.price_history) == 31
    store = HistoryStore(client, RetryPolicy(budget_seconds=5), KEYS, lookback=360,
                         ttl_seconds=86_400)  # fmt: skip
    loaded = store.load(now=now)
    assert loaded.legacy == ()
    for symbol, (k, p, ts) in expected.items():
        got = loaded.book.window(symbol)
        assert got[0].tolist() == k.tolist()
        assert got[1].tolist() == p.tolist()
        assert got[2].tolist() == ts.tolist()
    assert history_len(redis_proc, "AAA") == 31


def test_a_millisecond_ts_epoch_is_skipped_and_does_not_freeze_the_symbol(
    redis_proc: RedisProcess, worker: WorkerProcess
) -> None:
    """Review D6: one snapshot stamped in ms once froze its symbol for 24 h."""
    now = time.time()

    def snapshot(price: float, ts: float) -> dict[str, str]:
        return {"position_amt": "1", "mark_price": repr(price), "ts_epoch": repr(ts)}

    write_snapshots(redis_proc, {"AAA": snapshot(100.0, now * 1000)})

    def skipped() -> float:
        # A ts_epoch in milliseconds breaks the snapshot's contract: counted by its Fault.
        return metric_values(worker).get('p27_snapshots_skipped_total{reason="wrong_unit"}', 0.0)

    wait_for(lambda: skipped() >= 1, DEADLINE, "the future ts counted")
    assert history_len(redis_proc, "AAA") == 0
    for k in range(1, 4):  # later snapshots in seconds are taken, one point each
        write_snapshots(redis_proc, {"AAA": snapshot(100.0 + k, now + k)})

        def appended(count: int = k) -> bool:
            return history_len(redis_proc, "AAA") == count

        wait_for(appended, DEADLINE, f"point {k}")


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_the_worker_bounds_blas_threads_while_it_lives(redis_proc: RedisProcess) -> None:
    """BLAS on every core fought redis-server for them: a 0.4 ms product took 9-14 ms."""
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads() == {2}
        with in_process(ClustersWorker, ClustersSettings, redis_proc) as worker:
            assert blas_threads() == {1}  # the default
            worker.close()
        assert blas_threads() == {2}  # given back: the process goes on
        with in_process(ClustersWorker, ClustersSettings, redis_proc, TS_BLAS_THREADS="2"):
            assert blas_threads() == {2}
