"""Live bots as real processes: orders to the fake Binance through ccxt, active-standby.

Two bot processes trade one live account (TS_MODE=live, TS_EXCHANGE pointing ccxt at the
fake on loopback, the key in TS_EXCHANGE_API_KEY / TS_EXCHANGE_SECRET) on the breakout
replay of :mod:`tests.harness.bot_bars`, with the real gate. Every bot process runs
under the loopback guard (``loopback_site``): a request to any other host would fail
it. The proof: a leader paused past its lease (SIGSTOP) and resumed (SIGCONT) gets no
order of its old epoch placed on the exchange (a request it admitted before the pause
and sends after it arrives outside its send window and is refused), while the standby
that took over trades.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from tests.conftest import TEST_PASSWORD
from tests.harness.bot_bars import BUY_AT, breakout_bot_env, feed_doc, gate_env, write_csv
from tests.harness.fake_binance import FakeBinance
from tests.harness.live_venue import API_KEY, SECRET
from tests.harness.loopback_guard import SITE
from tests.harness.market import metric_values
from tests.harness.processes import (
    DEADLINE,
    ROOT,
    WorkerProcess,
    start_ready,
    start_worker,
    stop_all,
    worker_env,
)
from tests.harness.redis_procs import RedisProcess, wait_for

from tradingstack_workers.keys import Keys

pytestmark = pytest.mark.integration

KEYS = Keys()
ACCOUNT, BOT, SYMBOL = "live-ha", "brk", "BTCUSDT"
BAR_SECONDS = 0.5


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    exchange = FakeBinance(
        API_KEY, SECRET, prices={SYMBOL: 100.0}, balances={"USDT": 100_000.0}
    ).start()
    yield exchange
    exchange.stop()


@pytest.fixture
def started() -> Iterator[list[WorkerProcess]]:
    processes: list[WorkerProcess] = []
    yield processes
    stop_all(processes)


def live_env(redis_proc: RedisProcess, fake: FakeBinance, feed: dict[str, object],
             instance: str) -> dict[str, str]:  # fmt: skip
    venue = {"id": "binance", "sandbox": False, "apiUrl": fake.url, "timeoutSeconds": 2,
             "sendWindowSeconds": 1.5, "pollSeconds": 1, "driftToleranceUsd": 5}  # fmt: skip
    return worker_env(
        f"redis://127.0.0.1:{redis_proc.port}/0",
        TEST_PASSWORD,
        **breakout_bot_env(
            feed,
            bot=BOT,
            account=ACCOUNT,
            symbol=SYMBOL,
            PYTHONPATH=f"{SITE}{os.pathsep}{ROOT}",
            TS_INSTANCE=instance,
            TS_MODE="live",
            TS_EXCHANGE=json.dumps(venue),
            TS_EXCHANGE_API_KEY=API_KEY,
            TS_EXCHANGE_SECRET=SECRET,
            TS_MAX_ORDER_NOTIONAL_USD="0",
        ),
    )


def leading_epoch(process: WorkerProcess, above: int = 0) -> int | None:
    for line in list(process.lines):
        if line.get("msg") == "leading" and int(line["epoch"]) > above:
            return int(line["epoch"])
    return None


def order_epochs(redis_proc: RedisProcess) -> dict[str, int]:
    """Client order id -> the epoch that admitted it (the chokepoint's order records)."""
    raw = cast(dict[str, str], redis_proc.client().hgetall(KEYS.orders(ACCOUNT)))
    return {cid: int(json.loads(record)["epoch"]) for cid, record in raw.items()}


def sent(fake: FakeBinance, since: float = 0.0) -> list[Any]:
    return [s for s in list(fake.seen) if s.received >= since]


def test_a_paused_live_leader_sends_nothing_with_its_old_epoch(
    redis_proc: RedisProcess, fake: FakeBinance, started: list[WorkerProcess], tmp_path: Path
) -> None:
    start_ready(started, "gate", gate_env(f"redis://127.0.0.1:{redis_proc.port}/0"))
    path = write_csv(tmp_path / "bars.csv", SYMBOL, 40)
    feed = feed_doc(path, time.time() + 4 - BUY_AT * BAR_SECONDS, BAR_SECONDS)
    a = start_ready(started, "bots", live_env(redis_proc, fake, feed, "bot-a"))
    wait_for(lambda: leading_epoch(a) is not None, DEADLINE, "a leads")
    b = start_ready(started, "bots", live_env(redis_proc, fake, feed, "bot-b"))
    wait_for(lambda: len(fake.accepted()) >= 2, DEADLINE, "a's orders on the exchange")
    epoch_a = leading_epoch(a)
    assert epoch_a is not None

    os.kill(a.proc.pid, signal.SIGSTOP)
    wait_for(lambda: leading_epoch(b) is not None, DEADLINE, "b takes over")
    took_over = time.time()
    epoch_b = leading_epoch(b)
    assert epoch_b is not None
    assert epoch_b > epoch_a
    count = len(fake.accepted())
    wait_for(lambda: len(fake.accepted()) > count, DEADLINE, "b's orders on the exchange")

    os.kill(a.proc.pid, signal.SIGCONT)
    wait_for(lambda: metric_values(a)["tradingstack_bot_is_leader"] == 0, DEADLINE, "a standby")
    count = len(fake.accepted())
    wait_for(lambda: len(fake.accepted()) >= count + 2, DEADLINE, "more of b's orders")

    epochs = order_epochs(redis_proc)
    old = [s for s in sent(fake, since=took_over) if epochs.get(s.client_order_id) != epoch_b]
    # One a admitted before the pause and sends after SIGCONT arrives outside its send
    # window (no longer than a's lease, which ended before b took over): refused there.
    assert [s for s in old if s.outcome != "expired_window"] == [], (
        "an order of the old epoch reached the exchange after the takeover"
    )
    assert all(s.client_order_id in epochs for s in sent(fake)), "an order skipped the chokepoint"
    ids = [o.client_order_id for o in fake.accepted()]
    assert len(ids) == len(set(ids)), "an order placed twice"
    assert {epochs[i] for i in ids} <= {epoch_a, epoch_b}
    for process in (a, b):
        assert not any("loopback guard" in line for line in process.raw)


def test_a_live_bot_whose_key_can_withdraw_never_trades(
    redis_proc: RedisProcess, fake: FakeBinance, started: list[WorkerProcess], tmp_path: Path
) -> None:
    """The key can withdraw: the bot's start fails naming the Secret, again and again, and
    it is never ready and sends no order; once the key is trading-only it starts."""
    fake.key_restrictions["enableWithdrawals"] = True
    path = write_csv(tmp_path / "bars.csv", SYMBOL, 40)
    feed = feed_doc(path, time.time() + 4 - BUY_AT * BAR_SECONDS, BAR_SECONDS)
    bot = start_worker("bots", live_env(redis_proc, fake, feed, "bot-withdraw"))
    started.append(bot)

    def refusals() -> list[str]:
        return [
            str(line.get("exc", ""))
            for line in list(bot.lines)
            if line.get("msg") == "step failed" and line.get("phase") == "warm_up"
        ]

    wait_for(lambda: len(refusals()) >= 2, DEADLINE, "the start refused twice")
    assert "exchange.credentialsSecret: the key can withdraw funds" in refusals()[0]
    assert bot.get("/readyz")[0] == 503
    values = metric_values(bot)
    assert values['tradingstack_exchange_key_permission{permission="withdraw"}'] == 1
    assert values['tradingstack_worker_step_errors_total{error="KeyRefused",kind="bots"}'] >= 2
    assert fake.count("GET", "/api/v3/exchangeInfo") == 0
    assert fake.seen == []

    fake.key_restrictions["enableWithdrawals"] = False
    bot.wait_log("warmed up")
    wait_for(lambda: bot.get("/readyz")[0] == 200, DEADLINE, "ready with a trading-only key")
    assert metric_values(bot)['tradingstack_exchange_key_permission{permission="withdraw"}'] == 0
    assert not any(SECRET in line or API_KEY in line for line in bot.raw)
