"""What the live path costs per order: chokepoint admission, ccxt, the fake Binance, record.

Starts one redis-server and the fake Binance (tests/harness/fake_binance.py) on loopback.
Each order is a new intent (a new client order id), alternately a buy and a sell of the
same size so the account never runs dry.

- ``live submit``: median milliseconds of ``LiveExchange.submit`` (ADMIT in Redis, a signed
  ccxt ``create_order`` over HTTP, RECORD in Redis). Baseline: median milliseconds of a bare
  ccxt ``create_order`` against the same fake (no chokepoint, no ledger): the ratio is
  what the fenced chokepoint and the exactly-once record add to a real exchange call.
- ``paper submit``: median milliseconds of ``PaperExchange.submit`` (one Lua script). Baseline:
  the live submit of the same run: how much cheaper the paper exchange is.
- ``poll``: median milliseconds of one ``AccountPoller.poll`` (balance and open-orders
  reads, compare, fenced write). Baseline: a bare ccxt ``fetch_balance``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.harness.live_venue import PRICES, live_venue
from tests.harness.paper import open_paper_exchange
from tests.harness.redis_procs import redis_server

from bench.common import emit, parser
from tradingstack_workers.bots.execution import OrderIntent
from tradingstack_workers.wire import Side

NAME = "live_order"


def median_ms(action: Callable[[int], object], count: int) -> float:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        action(i)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    args = parser(__doc__ or NAME).parse_args()
    count = 5 if args.quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        server = redis_server(Path(tmp) / "redis").start()
        try:
            client = server.client()
            with live_venue(client, sendWindowSeconds=10.0) as venue:
                exchange, ccxt_client = venue.exchange, venue.exchange.calls.client

                def live(i: int) -> object:
                    side: Side = "BUY" if i % 2 == 0 else "SELL"
                    order = OrderIntent("live", "bench", f"live-{i}", "BTCUSDT", side, 0.001)
                    return exchange.submit(order, 1, PRICES["BTCUSDT"], time.time(),
                                           deadline=time.monotonic() + 30)  # fmt: skip

                def bare(i: int) -> object:
                    side = "buy" if i % 2 == 0 else "sell"
                    params = {"clientOrderId": f"bare-{i}"}
                    return ccxt_client.create_order("BTC/USDT", "market", side, 0.001, None, params)

                live_s = median_ms(live, count)
                bare_s = median_ms(bare, count)
                poll_s = median_ms(lambda _: venue.poller.poll(1, PRICES, time.time()), count)
                balance_s = median_ms(lambda _: ccxt_client.fetch_balance(), count)
            paper = open_paper_exchange(client, venue.keys, "paper")
            client.set(venue.keys.fence("paper"), 1)

            def paper_submit(i: int) -> object:
                side: Side = "BUY" if i % 2 == 0 else "SELL"
                order = OrderIntent("paper", "bench", f"paper-{i}", "BTCUSDT", side, 0.001)
                return paper.submit(order, 1, PRICES["BTCUSDT"], time.time())

            paper_s = median_ms(paper_submit, count)
        finally:
            server.stop()
    emit(NAME, "live submit", unit="ms", value=live_s, baseline_case="bare ccxt create_order",
         baseline_value=bare_s, orders=count)  # fmt: skip
    emit(NAME, "paper submit", unit="ms", value=paper_s, baseline_case="live submit",
         baseline_value=live_s, orders=count)  # fmt: skip
    emit(NAME, "poll", unit="ms", value=poll_s, baseline_case="bare ccxt fetch_balance",
         baseline_value=balance_s, polls=count)  # fmt: skip


if __name__ == "__main__":
    main()
