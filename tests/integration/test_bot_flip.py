"""A flip (long to short) in enforce mode: the old position is closed even when the new
entry is refused (reviews/risk.md D13; reducing risk is never blocked).

Real redis-server and a real gate process; the bot's Trader runs in this process so the
test drives one signal at a time. The budget hash is the governor's output contract,
written here in enforce mode with a budget below the entry's notional.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry
from tests.conftest import TEST_PASSWORD
from tests.harness.paper import open_paper_exchange
from tests.harness.processes import DEADLINE, WorkerProcess, start_worker, worker_env
from tests.harness.redis_procs import RedisProcess, wait_for

from tradingstack_workers.bots.flow import FLIP_EXIT, proposal_id
from tradingstack_workers.bots.marketdata.feed import Bar
from tradingstack_workers.bots.metrics import BotMetrics
from tradingstack_workers.bots.settings import BotSettings
from tradingstack_workers.bots.strategies import Signal
from tradingstack_workers.bots.trader import Trader
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.leadership import Lease, RedisLease
from tradingstack_workers.runtime.loop import build_context
from tradingstack_workers.runtime.metrics import RuntimeMetrics
from tradingstack_workers.runtime.settings import load_settings
from tradingstack_workers.wire import Budget

pytestmark = pytest.mark.integration

KEYS = Keys()
ACCOUNT = "flip"
BOT = "flipper"
SYMBOL = "BTCUSDT"
PRICE = 100.0


@pytest.fixture
def gate(redis_proc: RedisProcess) -> Iterator[WorkerProcess]:
    env = worker_env(
        f"redis://127.0.0.1:{redis_proc.port}/0",
        TEST_PASSWORD,
        TS_STREAM_BLOCK_MS="200",
        TS_SNAPSHOT_RESCAN_SECONDS="0",
    )
    process = start_worker("gate", env)
    wait_for(lambda: process.get("/readyz")[0] == 200, DEADLINE, "gate ready")
    yield process
    process.stop()


def trader(redis_proc: RedisProcess) -> tuple[Trader, Lease]:
    env = worker_env(
        f"redis://127.0.0.1:{redis_proc.port}/0",
        TEST_PASSWORD,
        TS_BOT_NAME=BOT,
        TS_ACCOUNT=ACCOUNT,
        TS_STRATEGY="breakout_momentum",
        TS_SYMBOLS=SYMBOL,
        TS_ORDER_QTY_USD="100",
        TS_PERMIT_WAIT_SECONDS="20",  # a generous deadline; the gate answers as it can
        TS_HEARTBEAT_INTERVAL_SECONDS="30",  # no heartbeat in this process
    )
    settings = load_settings(BotSettings, env)
    registry = CollectorRegistry()
    ctx = build_context(
        settings, registry, RuntimeMetrics.create(registry, "bots"), threading.Event()
    )
    exchange = open_paper_exchange(ctx.redis, KEYS, ACCOUNT)
    leadership = RedisLease(ctx.redis, KEYS.bot_leadership(ACCOUNT), "holder-1", lease_seconds=600)
    lease = leadership.acquire_or_renew(time.monotonic())
    assert lease is not None
    return Trader(ctx, exchange, leadership, BotMetrics.create(registry)), lease


def bar(ts: float) -> Bar:
    return Bar(SYMBOL, ts, PRICE, PRICE, PRICE, PRICE, 1.0)


def results(redis_proc: RedisProcess) -> list[dict[str, str]]:
    entries = cast(
        "list[tuple[str, dict[str, str]]]", redis_proc.client().xrange(KEYS.result_stream)
    )
    return [fields for _, fields in entries]


def write_book(redis_proc: RedisProcess, amt: float) -> None:
    """What the bot's ledger writes each cycle: the portfolio state and the snapshot."""
    client = redis_proc.client()
    now = time.time()
    state: dict[Any, Any] = {"equity_usd": 100_000, "drawdown": 0, "timestamp": now}
    snapshot: dict[Any, Any] = {"position_amt": amt, "mark_price": PRICE, "ts_epoch": now}
    client.hset(KEYS.portfolio_state, mapping=state)
    client.hset(KEYS.snapshot(SYMBOL), mapping=snapshot)
    client.sadd(KEYS.snapshot_index, SYMBOL)


def test_a_flip_closes_the_long_even_when_the_short_entry_is_refused(
    redis_proc: RedisProcess, gate: WorkerProcess
) -> None:
    bot, lease = trader(redis_proc)
    positions: dict[str, float] = {}
    t0 = time.time()

    write_book(redis_proc, 0.0)
    opened = bot.act(Signal(SYMBOL, t0, "BUY", "r", 1.0), bar(t0), lease, positions, halted=False)
    assert opened is not None
    assert (opened.decision, opened.reason) == ("EXECUTE", "filled")
    assert positions[SYMBOL] == pytest.approx(1.0)  # 100 USD at 100

    # The governor in enforce mode now allows 50 USD: any new entry of 100 USD is refused.
    write_book(redis_proc, positions[SYMBOL])
    budget = Budget(symbol=SYMBOL, budget_usd=50.0, stress_factor=0.5, equity_usd=100_000.0,
                    portfolio_heat=0.0, cluster_stress=0.0, vol_regime=0.33, mode="enforce",
                    timestamp=int(time.time()), base_risk_pct=2.0)  # fmt: skip
    fields: dict[Any, Any] = budget.to_fields()  # the whole hash, as the governor writes it
    redis_proc.client().hset(KEYS.budget(SYMBOL), mapping=fields)
    t1 = t0 + 60
    last = bot.act(Signal(SYMBOL, t1, "SELL", "r", 1.0), bar(t1), lease, positions, halted=False)

    assert last is not None
    assert (last.decision, last.reason) == ("BLOCKED", "budget_exceeded")
    assert abs(positions[SYMBOL]) < 1e-9  # the long is closed; no short was opened
    assert redis_proc.client().hgetall(KEYS.positions(ACCOUNT)) in ({}, {SYMBOL: "0.0"})
    got = results(redis_proc)
    exit_id = proposal_id(ACCOUNT, BOT, SYMBOL, t1, "SELL", leg=FLIP_EXIT)
    entry_id = proposal_id(ACCOUNT, BOT, SYMBOL, t1, "SELL")
    assert [(r["proposal_id"], r["decision"], r["reason"]) for r in got[1:]] == [
        (exit_id, "EXECUTE", "filled"),
        (entry_id, "BLOCKED", "budget_exceeded"),
    ]
    # The entry alone was judged: the gate permitted 100 USD, the budget refused it.
    permit = redis_proc.client().hgetall(KEYS.permit(entry_id))
    assert permit["granted"] == "1"
    assert float(permit["heat"]) < 0.01

    # A replay of the same bar (a restart) acts on neither leg again.
    assert bot.act(Signal(SYMBOL, t1, "SELL", "r", 1.0), bar(t1), lease, positions,
                   halted=False) is None  # fmt: skip
    assert len(results(redis_proc)) == 3
