"""Paper account funds at the chokepoint: cash, margin, fees, and a ledger that reconciles.

The property test drives random order sequences through the real script on a real
redis-server and checks, after every answer: cash + positions at mark = the equity the
ledger publishes; cash and positions equal what the fills stream adds up to (fees
included); an entry never leaves cash below 0 nor gross exposure above the leverage
limit; a refused order changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import cast

import pytest
import redis
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tests.harness.redis_procs import RedisProcess, redis_server

from tradingstack_workers.bots.execution import (
    Ledger,
    OrderIntent,
    PaperConfig,
    PaperExchange,
    Protections,
)
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.leadership import RedisLease
from tradingstack_workers.runtime.redis_client import RetryPolicy

pytestmark = pytest.mark.integration

KEYS = Keys()
ACCOUNT = "funds-1"
NOW = 1_800_000_000.0
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def exchange(
    r: redis.Redis, *, cash: float = 1_000.0, fee_bps: float = 0.0, leverage: float = 1.0
) -> PaperExchange:
    ex = PaperExchange(
        r,
        RetryPolicy(budget_seconds=2.0),
        KEYS,
        ACCOUNT,
        config=PaperConfig(
            fee_bps=fee_bps, slippage_bps=0.0, initial_cash_usd=cash, max_leverage=leverage
        ),
        protections=Protections(),
    )
    ex.open()
    return ex


def leader_epoch(r: redis.Redis) -> int:
    lease = RedisLease(
        r, KEYS.bot_leadership(ACCOUNT), "leader", lease_seconds=30
    ).acquire_or_renew(0.0)
    assert lease is not None
    return lease.epoch


def order(intent_id: str, side: str, qty: float, symbol: str = "BTCUSDT") -> OrderIntent:
    return OrderIntent(ACCOUNT, "bot-1", intent_id, symbol, "BUY" if side == "BUY" else "SELL", qty)


@pytest.fixture
def r(redis_proc: RedisProcess) -> redis.Redis:
    return redis_proc.client()


def test_an_order_above_the_cash_is_refused_and_cash_never_goes_negative(
    r: redis.Redis,
) -> None:
    ex = exchange(r, cash=1_000.0, fee_bps=10)
    epoch = leader_epoch(r)
    big = ex.submit(order("big", "BUY", 11.0), epoch, 100.0, NOW)  # 1,100 USD
    assert (big.label, big.fill) == ("rejected:insufficient_funds", None)
    assert ex.state().cash_usd == 1_000.0
    assert ex.state().positions == {}
    # All the cash, but not the fee on top of it: still refused.
    assert ex.submit(order("all", "BUY", 10.0), epoch, 100.0, NOW).label == (
        "rejected:insufficient_funds"
    )
    fits = ex.submit(order("fits", "BUY", 9.9), epoch, 100.0, NOW)
    assert fits.label == "filled"
    assert fits.fill is not None
    assert fits.fill.cash_after == pytest.approx(1_000.0 - 990.0 - 0.99)
    assert ex.state().cash_usd >= 0
    assert r.xlen(KEYS.fills(ACCOUNT)) == 1


def test_a_short_needs_margin_and_an_exit_always_runs(r: redis.Redis) -> None:
    ex = exchange(r, cash=1_000.0, leverage=1.0)
    epoch = leader_epoch(r)
    # Short 1,000 USD: proceeds raise cash to 2,000, equity stays 1,000, gross 1,000: fits.
    assert ex.submit(order("s1", "SELL", 10.0), epoch, 100.0, NOW).label == "filled"
    # More short exposure than the equity carries at 1x.
    assert ex.submit(order("s2", "SELL", 1.0), epoch, 100.0, NOW).label == (
        "rejected:insufficient_funds"
    )
    # Another symbol's entry counts the short at its last mark too.
    assert ex.submit(order("e1", "BUY", 1.0, "ETHUSDT"), epoch, 10.0, NOW).label == (
        "rejected:insufficient_funds"
    )
    # The price doubles: covering costs more than the cash the account has, yet the exit runs.
    cover = ex.submit(order("cover", "BUY", 10.0), epoch, 250.0, NOW + 1)
    assert cover.label == "filled"
    assert ex.state().positions == {}
    assert ex.state().cash_usd == pytest.approx(1_000.0 + 1_000.0 - 2_500.0)


def test_order_records_expire_and_only_then_may_an_id_repeat(r: redis.Redis) -> None:
    ex = PaperExchange(
        r,
        RetryPolicy(budget_seconds=2.0),
        KEYS,
        ACCOUNT,
        config=PaperConfig(order_ttl_seconds=60),
        protections=Protections(),
    )
    ex.open()
    epoch = leader_epoch(r)
    first = ex.submit(order("p1", "BUY", 1.0), epoch, 100.0, NOW)
    assert first.fill is not None
    assert ex.submit(order("p1", "BUY", 1.0), epoch, 100.0, NOW + 59).label == "duplicate"
    # The next order after the TTL prunes the old record; only then may its id fill again.
    assert ex.submit(order("p2", "BUY", 1.0), epoch, 100.0, NOW + 61).label == "filled"
    assert not r.hexists(KEYS.orders(ACCOUNT), first.fill.client_order_id)
    assert r.zcard(KEYS.order_index(ACCOUNT)) == 1
    assert ex.submit(order("p1", "BUY", 1.0), epoch, 100.0, NOW + 62).label == "filled"


# -- the property test ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    """One server for every generated example (each example flushes it first)."""
    server = redis_server(tmp_path_factory.mktemp("funds") / "redis", password="p").start()
    yield server.client()
    server.stop()


Step = tuple[str, str, float, float]  # side, symbol, qty, mark

steps = st.lists(
    st.tuples(
        st.sampled_from(["BUY", "SELL"]),
        st.sampled_from(SYMBOLS),
        st.floats(min_value=0.01, max_value=40.0, allow_nan=False),
        st.floats(min_value=1.0, max_value=500.0, allow_nan=False),
    ),
    min_size=1,
    max_size=25,
)


def _reconcile(r: redis.Redis, ex: PaperExchange, ledger: Ledger, *, epoch: int,
               marks: dict[str, float], cash0: float) -> None:  # fmt: skip
    state = ex.state()
    written = ledger.write(epoch, marks, {}, NOW)
    assert written is not None
    equity = state.cash_usd + sum(q * marks[s] for s, q in state.positions.items())
    assert written.portfolio.equity_usd == pytest.approx(equity, rel=1e-12, abs=1e-9)
    # The fills stream alone accounts for cash and positions: nothing moved without a fill.
    cash, held = cash0, dict.fromkeys(SYMBOLS, 0.0)
    entries = cast("list[tuple[str, dict[str, str]]]", r.xrange(KEYS.fills(ACCOUNT)))
    for _, fill in entries:
        sign = 1.0 if fill["side"] == "BUY" else -1.0
        cash -= sign * float(fill["notional_usd"]) + float(fill["fee_usd"])
        held[fill["symbol"]] += sign * float(fill["qty"])
    assert state.cash_usd == pytest.approx(cash, rel=1e-12, abs=1e-9)
    for symbol in SYMBOLS:
        assert state.positions.get(symbol, 0.0) == pytest.approx(held[symbol], abs=1e-9)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=steps, fee_bps=st.sampled_from([0.0, 4.0, 25.0]))
def test_the_ledger_reconciles_after_every_fill(
    shared_redis: redis.Redis, sequence: list[Step], fee_bps: float
) -> None:
    r = shared_redis
    r.flushall()
    cash0 = 5_000.0
    ex = exchange(r, cash=cash0, fee_bps=fee_bps, leverage=1.0)
    ledger = Ledger(r, RetryPolicy(budget_seconds=2.0), KEYS, ex)
    epoch = leader_epoch(r)
    marks = dict.fromkeys(SYMBOLS, 100.0)
    for i, (side, symbol, qty, mark) in enumerate(sequence):
        before = ex.state()
        held = before.positions.get(symbol, 0.0)
        reducing = held * (1 if side == "BUY" else -1) < 0 and qty <= abs(held) + 1e-12
        marks[symbol] = mark
        result = ex.submit(order(f"o{i}", side, qty, symbol), epoch, mark, NOW + i)
        after = ex.state()
        event(f"{'exit' if reducing else 'entry'} {result.label}")  # --hypothesis-show-statistics
        if result.status != "filled":
            assert result.label == "rejected:insufficient_funds"
            assert not reducing  # an exit is never refused for funds
            assert after == before  # a refusal changes nothing
        elif not reducing:
            assert after.cash_usd >= 0
            gross = sum(abs(q) * marks[s] for s, q in after.positions.items())
            equity = after.cash_usd + sum(q * marks[s] for s, q in after.positions.items())
            assert gross <= equity * 1.0 * (1 + 1e-9) + 1e-9
        _reconcile(r, ex, ledger, epoch=epoch, marks=marks, cash0=cash0)
    assert math.isfinite(ex.state().cash_usd)
