"""Intel (P3.5) aggregation throughput through a real redis-server on loopback.

Starts one redis-server and writes N execution results to the result stream once
(untimed). Then, on that same data, measures the floor, a bare consumer group
(XREADGROUP COUNT 500 + one variadic XACK per batch, nothing else), and the real
IntelWorker's path (fetch, parse each entry against the contract, tally, and the
commit script that acknowledges and counts in one MULTI/EXEC), each in its own
group. The ratio is the share of Redis's own rate that counting keeps. Each is run
``ROUNDS`` times, interleaved, and its best round kept: on a shared two-core machine a
single round mostly measures the neighbours.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, cast

import redis
from tests.harness.redis_procs import redis_server

from bench.common import emit, in_process_worker, parser
from tradingstack_workers.intel.settings import IntelSettings
from tradingstack_workers.intel.store import GROUP
from tradingstack_workers.intel.worker import IntelWorker
from tradingstack_workers.keys import Keys
from tradingstack_workers.wire.result import Decision, ExecutionResult

BATCH = 500
SYMBOLS = [f"S{i:02d}USDT" for i in range(20)]
REASONS = ["heat_limit", "stress_limit", "p33_permit_denied", "no_position", "budget_exceeded"]
DECISIONS: list[Decision] = ["EXECUTE", "SKIP", "BLOCKED", "ERROR"]
ROUNDS = 3


def produce(client: redis.Redis, stream: str, n: int) -> None:
    for start in range(0, n, BATCH):
        pipe = client.pipeline(transaction=False)
        for j in range(start, min(n, start + BATCH)):
            decision = DECISIONS[j % 4]
            reason = "" if decision == "EXECUTE" else REASONS[j % 5]
            result = ExecutionResult(decision, reason, SYMBOLS[j % 20], time.time(), bot="bench")
            pipe.xadd(stream, cast("dict[Any, Any]", result.to_fields()))
        pipe.execute()


def raw_floor(client: redis.Redis, stream: str, n: int, group: str) -> float:
    """Entries per second through XREADGROUP COUNT 500 + one variadic XACK per batch."""
    client.xgroup_create(stream, group, id="0")
    started = time.perf_counter()
    done = 0
    while done < n:
        reply = cast("list[Any]", client.xreadgroup(group, "c", {stream: ">"}, count=BATCH))
        ids = [entry_id for _, entries in reply for entry_id, _ in entries]
        client.xack(stream, group, *ids)
        done += len(ids)
    return n / (time.perf_counter() - started)


def intel_run(port: int, n: int) -> float:
    """Entries per second counted by the real worker's fetch + count path."""
    settings = IntelSettings(
        redis_url=f"redis://127.0.0.1:{port}/0", instance="bench-intel", stream_batch_size=BATCH
    )
    with in_process_worker(IntelWorker, settings) as (ctx, worker):
        started = time.perf_counter()
        done = 0
        while done < n:
            done += worker.count(worker.consumer.fetch())
        elapsed = time.perf_counter() - started
        counted = int(ctx.redis.hget(ctx.keys.intel_status, "processed_total") or 0)
        # the next round starts afresh: a new group, no counts
        ctx.redis.xgroup_destroy(ctx.keys.result_stream, GROUP)
        stale = list(ctx.redis.scan_iter(match=ctx.keys.intel_bucket("*"), count=1000))
        ctx.redis.delete(ctx.keys.intel_status, *stale)
    if counted != n:
        raise SystemExit(f"intel counted {counted} of {n}")
    return n / elapsed


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 2_000 if args.quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        server = redis_server(Path(tmp) / "redis").start()
        try:
            client = server.client()
            stream = Keys().result_stream
            produce(client, stream, n)
            floor_rate = rate = 0.0
            for round_ in range(ROUNDS):
                floor_rate = max(floor_rate, raw_floor(client, stream, n, f"raw{round_}"))
                rate = max(rate, intel_run(server.port, n))
        finally:
            server.stop()
    emit(
        "intel_throughput",
        "intel aggregated",
        unit="msg/s",
        value=rate,
        baseline_case="XREADGROUP COUNT 500 + XACK",
        baseline_value=floor_rate,
        messages=n,
        batch=BATCH,
        rounds=ROUNDS,
    )


if __name__ == "__main__":
    main()
