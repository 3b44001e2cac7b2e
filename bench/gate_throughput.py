"""Gate throughput and decision latency through a real redis-server on loopback.

Starts one redis-server; in the same run measures the floor (the same number of
entries through XADD + XREADGROUP COUNT 500 + one variadic XACK per batch, and a
pipelined HSET + EXPIRE round trip: a permit write without exactly-once) and the
gate (XADD, then the real GateWorker steps until every proposal has its permit).
Decision latency is per proposal: its batch's view read, parse, decide, the batch's
exactly-once write of permits, audit entries, heat and reservations, metrics and the
JSON log lines (to /dev/null).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import redis
from tests.harness.redis_procs import redis_server

from bench.common import emit, in_process_worker, parser
from tradingstack_workers.gate.settings import GateSettings
from tradingstack_workers.gate.store import ViewRead
from tradingstack_workers.gate.worker import GateWorker
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.streams import StreamEntry
from tradingstack_workers.wire.proposal import Proposal

BATCH = 500
SYMBOLS = [f"S{i:02d}USDT" for i in range(20)]


def seed_book(client: redis.Redis, keys: Keys) -> None:
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.hset(keys.portfolio_state, mapping={"equity_usd": 1e7, "timestamp": now})
    pipe.hset(keys.cluster_state, mapping={"cluster_stress": 0.5, "updated_ts": now})
    for i, symbol in enumerate(SYMBOLS):
        snapshot: dict[Any, Any] = {"position_amt": i - 9.5, "mark_price": 100, "ts_epoch": now}
        pipe.hset(keys.snapshot(symbol), mapping=snapshot)
    pipe.execute()


def produce(client: redis.Redis, stream: str, n: int, tag: str) -> None:
    for start in range(0, n, BATCH):
        pipe = client.pipeline(transaction=False)
        for j in range(start, min(n, start + BATCH)):
            p = Proposal(
                proposal_id=f"{tag}-{j}",
                bot="bench",
                strategy="breakout",
                symbol=SYMBOLS[j % 20],
                side="BUY",
                qty=1.0,
                price=100.0,
                notional_usd=100.0,
                ts=time.time(),
            )
            pipe.xadd(stream, cast("dict[Any, Any]", p.to_fields()))
        pipe.execute()  # fmt: skip


def raw_floor(client: redis.Redis, n: int) -> float:
    """Entries per second through XADD + XREADGROUP + one XACK per batch."""
    stream = "bench:raw"
    client.xgroup_create(stream, "g", id="0", mkstream=True)
    started = time.perf_counter()
    produce(client, stream, n, "raw")
    done = 0
    while done < n:
        reply = cast("list[Any]", client.xreadgroup("g", "c", {stream: ">"}, count=BATCH))
        ids = [entry_id for _, entries in reply for entry_id, _ in entries]
        client.xack(stream, "g", *ids)
        done += len(ids)
    return n / (time.perf_counter() - started)


def write_floor(client: redis.Redis, n: int) -> list[float]:
    """Seconds per pipelined HSET + EXPIRE: a permit write with no exactly-once marker."""
    times = []
    for j in range(n):
        started = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        pipe.hset(f"bench:permit:{j}", mapping={"granted": "1", "reason": "ok"})
        pipe.expire(f"bench:permit:{j}", 60)
        pipe.execute()
        times.append(time.perf_counter() - started)
    return times


def gate_run(port: int, n: int) -> tuple[float, list[float]]:
    settings = GateSettings(redis_url=f"redis://127.0.0.1:{port}/0", instance="bench-gate")
    with in_process_worker(GateWorker, settings) as (ctx, worker):
        timings: list[float] = []
        decide_batch = worker.decide_batch

        def timed(entries: list[StreamEntry], read: ViewRead, picked: float) -> Any:
            failures = decide_batch(entries, read, picked)
            # Every proposal of a batch waits for the batch: its latency is the batch's.
            timings.extend([time.perf_counter() - picked] * len(entries))
            return failures

        worker.decide_batch = timed  # type: ignore[method-assign]
        seed_book(ctx.redis, ctx.keys)
        started = time.perf_counter()
        produce(ctx.redis, ctx.keys.proposal_stream, n, "gate")
        while len(timings) < n:
            worker.step()
        elapsed = time.perf_counter() - started
    return n / elapsed, timings


def pct(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 300 if args.quick else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        server = redis_server(Path(tmp) / "redis").start()
        try:
            client = server.client()
            floor_rate = raw_floor(client, n)
            floor_lat = write_floor(client, min(n, 5000))
            rate, lat = gate_run(server.port, n)
        finally:
            server.stop()
    emit(
        "gate_throughput",
        "gate proposals",
        unit="proposals/s",
        value=rate,
        baseline_case="XADD+XREADGROUP+XACK",
        baseline_value=floor_rate,
        proposals=n,
        batch=BATCH,
    )
    for q in (50, 99):
        emit("gate_throughput", f"decision p{q}", unit="ms", value=pct(lat, q) * 1e3,
             baseline_case=f"HSET+EXPIRE p{q}", baseline_value=pct(floor_lat, q) * 1e3,
             proposals=n)  # fmt: skip


if __name__ == "__main__":
    main()
