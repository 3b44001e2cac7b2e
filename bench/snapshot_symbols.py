"""Finding the symbols that have a position snapshot, as the keyspace grows.

Starts one redis-server; fills it with ``symbols`` position snapshots (indexed, as every
snapshot writer does) among other keys (exactly-once markers and permits, one pair per
proposal, 24 h of them at a desk's pace). In the same run, per keyspace size: the time of
one :meth:`SnapshotSymbols.read` after its first (one SMEMBERS of the writers' index),
against the baseline, the SCAN of the snapshot keys every reader ran before the index
(:func:`scan_symbols`, what the first read still runs once). Both are median times of
repeated reads, and each finds the same symbols.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis
from tests.harness.redis_procs import redis_server

from bench.common import emit, parser
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.redis_client import RetryPolicy
from tradingstack_workers.runtime.symbol_scan import ScannedSymbols, SnapshotSymbols, scan_symbols

SYMBOLS = 50
#: Other keys written per pipeline while filling the keyspace.
FILL_BATCH = 10_000


def fill(client: redis.Redis, keys: Keys, others: int, done: int) -> None:
    """Grow the keyspace's other keys from ``done`` to ``others``."""
    for start in range(done, others, FILL_BATCH):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(others, start + FILL_BATCH)):
            pipe.set(f"{keys.prefix}:once:proposal-{i}", "1")
        pipe.execute()


def median_ms(read: Callable[[], ScannedSymbols], repeats: int) -> tuple[float, list[str]]:
    times, found = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        found = read().symbols
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3, found


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    sizes = [20_000] if args.quick else [40_000, 200_000, 1_000_000]
    keys, retry = Keys(), RetryPolicy(budget_seconds=30.0)
    with tempfile.TemporaryDirectory() as tmp:
        server = redis_server(Path(tmp) / "redis").start()
        try:
            client = server.client()
            pipe = client.pipeline(transaction=False)
            for i in range(SYMBOLS):
                symbol = f"S{i:03d}USDT"
                pipe.hset(keys.snapshot(symbol), mapping={"position_amt": "1",
                          "mark_price": "100", "ts_epoch": repr(time.time())})  # fmt: skip
                pipe.sadd(keys.snapshot_index, symbol)
            pipe.execute()
            indexed = SnapshotSymbols(client, retry, keys)
            indexed.read()  # the first read's one SCAN
            done = 0
            for others in sizes:
                fill(client, keys, others, done)
                done = others
                repeats = 5 if others >= 1_000_000 else 20
                scan_ms, scanned = median_ms(
                    lambda: scan_symbols(client, retry, keys.snapshot(""), keys.snapshot_pattern),
                    repeats,
                )
                index_ms, found = median_ms(indexed.read, 200)
                if found != scanned or len(found) != SYMBOLS:
                    raise SystemExit(f"the index found {len(found)}, SCAN {len(scanned)}")
                emit(
                    "snapshot_symbols",
                    f"index read, {others} other keys",
                    unit="ms",
                    value=index_ms,
                    baseline_case="SCAN of the snapshot keys",
                    baseline_value=scan_ms,
                    symbols=SYMBOLS,
                    keys=int(client.dbsize()),
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
