"""The clusters worker's whole cycle against a bare ``np.corrcoef`` of the same data.

Starts one redis-server, writes N position snapshots and the persisted price history
of N symbols x M - 1 cycles (untimed), warms a real ClustersWorker up in this process,
then times its cycle: SCAN and read the snapshots, append this cycle's point to every
symbol's history (in memory, and as one row in Redis), align, correlate with shrinkage,
cluster, score ClusterStress and publish the state and its audit entry. Before each
cycle every snapshot moves to a new price (untimed), so each cycle appends N points and
correlates N symbols x M points.

Baseline, same run: ``np.corrcoef`` of the log returns of that cycle's aligned price
matrix, the least any correlation cycle must do, with BLAS bounded to the worker's own
``blas_threads`` (the worker bounds it while it lives; the baseline gets the same bound
explicitly, so both sides do their matrix products on as many threads). Cycles and
baselines are interleaved and each keeps its fastest of ``ROUNDS``: on a shared
two-core machine a single round mostly measures the neighbours.
"""

from __future__ import annotations

import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np
import redis
from tests.harness.redis_procs import redis_server
from threadpoolctl import threadpool_limits

from bench.clusters_correlation import prices
from bench.common import emit, in_process_worker, parser
from tradingstack_workers.clusters.rows import encode_row
from tradingstack_workers.clusters.settings import ClustersSettings
from tradingstack_workers.clusters.worker import ClustersWorker
from tradingstack_workers.keys import Keys

ROUNDS = 9
INTERVAL = 60.0


def symbols_of(n: int) -> list[str]:
    return [f"S{i:04d}USDT" for i in range(n)]


def write_histories(client: redis.Redis, keys: Keys, path: np.ndarray, start: float) -> None:
    """Every symbol's first ``len(path) - ROUNDS`` points, as the worker persists them."""
    symbols = symbols_of(path.shape[1])
    rows: dict[Any, float] = {}
    for k in range(len(path) - ROUNDS):
        key = start + INTERVAL * k
        rows[encode_row(key, symbols, path[k], np.full(len(symbols), key - 1.0))] = key
    client.zadd(keys.price_history, rows)


def write_snapshots(client: redis.Redis, keys: Keys, row: np.ndarray, ts: float) -> None:
    pipe = client.pipeline(transaction=False)
    for i, symbol in enumerate(symbols_of(len(row))):
        amount = 1.0 if i % 3 else -1.0
        pipe.hset(
            keys.snapshot(symbol),
            mapping={"position_amt": amount, "mark_price": float(row[i]), "ts_epoch": ts},
        )
        pipe.sadd(keys.snapshot_index, symbol)  # as every snapshot writer does
    pipe.execute()


def corrcoef_ms(window: np.ndarray, blas_threads: int) -> float:
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        started = time.perf_counter()
        np.corrcoef(np.diff(np.log(window), axis=0), rowvar=False)
        return (time.perf_counter() - started) * 1000


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n, points = (50, 60) if args.quick else (1000, 360)
    # ROUNDS cycles, each extending a window of ``points`` by one new point.
    path = prices(n, points + ROUNDS)
    start = time.time() - INTERVAL * (points + ROUNDS)
    keys = Keys()
    cycle = baseline = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        server = redis_server(Path(tmp) / "redis").start()
        try:
            client = server.client()
            write_histories(client, keys, path, start)
            settings = ClustersSettings(
                redis_url=f"redis://127.0.0.1:{server.port}/0",
                instance="bench-clusters",
                lookback_points=points,
                interval_seconds=INTERVAL,
            )
            with in_process_worker(ClustersWorker, settings) as (ctx, worker):
                for k in range(len(path) - ROUNDS, len(path)):
                    now = start + INTERVAL * k
                    write_snapshots(client, keys, path[k], now - 1.0)
                    ctx.clock = partial(float, now)
                    started = time.perf_counter()
                    worker.cycle()  # renew the lease (a round trip), then the whole cycle
                    cycle = min(cycle, (time.perf_counter() - started) * 1000)
                    window = path[k + 1 - points : k + 1]
                    baseline = min(baseline, corrcoef_ms(window, settings.blas_threads))
                audit = cast("list[Any]", client.xrevrange(keys.cluster_state_stream, count=1))
                published_cycles = client.xlen(keys.cluster_state_stream)
        finally:
            server.stop()
    published: dict[str, str] = audit[0][1] if audit else {}
    if published.get("points") != str(points) or published_cycles != ROUNDS:
        raise SystemExit(f"{published_cycles} cycles published, the last {published or '-'}")
    emit(
        "clusters_cycle",
        f"whole clusters cycle, {n} symbols x {points} points",
        unit="ms",
        value=cycle,
        baseline_case=f"np.corrcoef of the same log returns, {n} symbols x {points} points",
        baseline_value=baseline,
        symbols=n,
        points=points,
        rounds=ROUNDS,
        blas_threads=settings.blas_threads,
        clusters=int(published["clusters_count"]),
    )


if __name__ == "__main__":
    main()
