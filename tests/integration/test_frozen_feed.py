"""Field case 07: one symbol's snapshot stops changing while the others move.

The clusters worker (in this process, real Redis, its clock driven cycle by cycle)
names the frozen symbol in a metric and the log, leaves it out of the correlation
window and marks the state it publishes as degraded; the gate, reading that state,
falls back to its proxy and says why. The state never looks fresh for a book it no
longer describes, and it never fails closed as misaligned hours later.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from tests.harness.redis_procs import RedisProcess
from tests.harness.streams import in_process, sample

from tradingstack_workers.clusters.settings import ClustersSettings
from tradingstack_workers.clusters.worker import ClustersWorker
from tradingstack_workers.gate.decide import GateLimits, PortfolioView, Position, correlation_k
from tradingstack_workers.gate.store import cluster_state
from tradingstack_workers.keys import Keys
from tradingstack_workers.wire import ClusterStateHash

pytestmark = pytest.mark.integration

CASE07 = Path(__file__).parents[1] / "data" / "cases" / "case07-frozen-feed-one-symbol.csv"
KEYS = Keys()
INTERVAL = 60.0
POSITIONS = {"BTCUSDT": 0.5, "ETHUSDT": 10.0}


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def clusters(redis_proc: RedisProcess) -> Iterator[ClustersWorker]:
    with in_process(
        ClustersWorker, ClustersSettings, redis_proc, TS_MIN_POINTS="20", TS_LOOKBACK_POINTS="360"
    ) as worker:
        yield worker


def write_snapshot(client: redis.Redis, symbol: str, price: str, ts: float) -> None:
    fields: dict[Any, Any] = {"position_amt": POSITIONS[symbol], "mark_price": price,
                              "ts_epoch": repr(ts)}  # fmt: skip
    client.hset(KEYS.snapshot(symbol), mapping=fields)
    client.sadd(KEYS.snapshot_index, symbol)


def test_case07_a_frozen_symbol_is_named_left_out_and_the_state_degraded(
    clusters: ClustersWorker, redis_proc: RedisProcess
) -> None:
    rows = list(csv.DictReader(CASE07.open()))
    client = redis_proc.client()
    registry = clusters.ctx.registry
    lines = Lines()
    logging.getLogger("tradingstack_workers.clusters.worker").addHandler(lines)
    start = time.time() - len(rows) * INTERVAL
    frozen_at = next(int(r["cycle"]) for r in rows if r["eth_frozen"] == "1")
    detect_after = int(clusters.ctx.settings.frozen_after // INTERVAL) + 1
    published: dict[int, ClusterStateHash] = {}
    try:
        for row in rows:
            cycle = int(row["cycle"])
            now = start + cycle * INTERVAL
            clusters.ctx.clock = lambda now=now: now  # type: ignore[misc]
            write_snapshot(client, "BTCUSDT", row["BTCUSDT"], now)
            if row["eth_frozen"] == "0":  # a frozen feed: ETH's hash is not rewritten
                write_snapshot(client, "ETHUSDT", row["ETHUSDT"], now)
            clusters.cycle()
            raw = client.hgetall(KEYS.cluster_state)
            if raw:
                published[cycle] = ClusterStateHash.parse(cast("dict[str, str]", raw), now)
            frozen_metric = sample(registry, "p27_frozen_symbol", symbol="ETHUSDT")
            if cycle < frozen_at + detect_after - 1:
                assert frozen_metric == 0, cycle
            elif cycle >= frozen_at + detect_after:
                assert frozen_metric == 1, cycle
    finally:
        logging.getLogger("tradingstack_workers.clusters.worker").removeHandler(lines)

    # Correlated from the 20th point on, both symbols in the state while both move.
    assert published[frozen_at - 1].frozen == ()
    last = rows[-1]
    final = published[int(last["cycle"])]
    assert final.frozen == ("ETHUSDT",)
    assert final.degraded
    assert sample(registry, "p27_frozen_symbol", symbol="ETHUSDT") == 1
    assert sample(registry, "p27_frozen_symbol", symbol="BTCUSDT") == 0
    # Only the warm-up failed closed (too few points); never "misaligned".
    assert sample(registry, "p27_fail_closed_total", reason="misaligned") == 0
    assert sample(registry, "p27_fail_closed_total", reason="too_short") == 19
    named = [r for r in lines.records if getattr(r, "symbol", None) == "ETHUSDT"]
    assert any("frozen" in r.getMessage() for r in named)

    # The gate sees why it may not use that state as is for a book holding ETH.
    assert final.symbols == ("BTCUSDT",)
    now = start + int(last["cycle"]) * INTERVAL
    book = {s: Position(s, amt, 1.0, now) for s, amt in POSITIONS.items()}
    view = PortfolioView(1e6, now, book, cluster_state(final), now)
    k = max(final.cluster_stress, 0.9)
    assert correlation_k(view, set(book), 0.9, GateLimits()) == (k, "proxy", "degraded")
    assert correlation_k(view, {"BTCUSDT"}, 0.9, GateLimits())[1:] == ("cluster", None)


def test_the_feed_resuming_brings_the_symbol_back(
    clusters: ClustersWorker, redis_proc: RedisProcess
) -> None:
    client = redis_proc.client()
    start = time.time() - 40 * INTERVAL
    frozen_after = clusters.ctx.settings.frozen_after
    seen_frozen = []
    for cycle in range(40):
        now = start + cycle * INTERVAL
        clusters.ctx.clock = lambda now=now: now  # type: ignore[misc]
        write_snapshot(client, "BTCUSDT", str(60_000 + 10 * (cycle % 7)), now)
        stuck = 10 <= cycle < 10 + frozen_after / INTERVAL + 5
        price = "3000" if stuck else str(3000 + cycle % 5)  # rewritten, but the same price
        write_snapshot(client, "ETHUSDT", price, now)
        clusters.cycle()
        if clusters.frozen:
            seen_frozen.append(cycle)
    assert seen_frozen  # a stuck price source, rewritten every cycle, froze too
    assert clusters.frozen == set()
    assert sample(clusters.ctx.registry, "p27_frozen_symbol", symbol="ETHUSDT") == 0
    raw = client.hgetall(KEYS.cluster_state)
    assert raw["frozen"] == ""
