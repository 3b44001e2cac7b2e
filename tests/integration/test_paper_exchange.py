"""The paper exchange and its chokepoint against a real redis-server: what lands in Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from tests.harness.redis_procs import RedisProcess

from tradingstack_workers.bots.execution import (
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
ACCOUNT = "paper-1"
NOW = 1_800_000_000.0
MakeExchange = Callable[..., PaperExchange]


@pytest.fixture
def r(redis_proc: RedisProcess) -> redis.Redis:
    return redis_proc.client()


@pytest.fixture
def make(r: redis.Redis) -> MakeExchange:
    """A new exchange object on the same Redis (what a restarted bot builds)."""

    def build(
        fee_bps: float = 0.0, slippage_bps: float = 0.0, **limits: float | int | bool
    ) -> PaperExchange:
        exchange = PaperExchange(
            r,
            RetryPolicy(budget_seconds=2.0),
            KEYS,
            ACCOUNT,
            config=PaperConfig(fee_bps=fee_bps, slippage_bps=slippage_bps, initial_cash_usd=1e5),
            protections=Protections(**limits),  # type: ignore[arg-type]
        )
        exchange.open()
        return exchange

    return build


@pytest.fixture
def epoch(r: redis.Redis) -> int:
    """The epoch of a leader elected the real way."""
    lease = RedisLease(
        r, KEYS.bot_leadership(ACCOUNT), "leader-a", lease_seconds=30
    ).acquire_or_renew(0.0)
    assert lease is not None
    return lease.epoch


def intent(
    intent_id: str, side: str = "BUY", qty: float = 1.0, symbol: str = "BTCUSDT"
) -> OrderIntent:
    return OrderIntent(ACCOUNT, "bot-1", intent_id, symbol, "BUY" if side == "BUY" else "SELL", qty)


def test_buy_fills_at_mark_plus_slippage_and_pays_the_fee(make: MakeExchange, epoch: int) -> None:
    ex = make(fee_bps=10, slippage_bps=5)
    result = ex.submit(intent("p1", "BUY", 2.0), epoch, 100.0, NOW)
    assert result.label == "filled"
    fill = result.fill
    assert fill is not None
    assert fill.price == pytest.approx(100.05)  # 5 bps against the buyer
    assert fill.notional_usd == pytest.approx(200.1)
    assert fill.fee_usd == pytest.approx(0.2001)  # 10 bps of the filled notional
    assert fill.cash_after == pytest.approx(1e5 - 200.1 - 0.2001)
    state = ex.state()
    assert state.positions == {"BTCUSDT": 2.0}
    assert state.cash_usd == pytest.approx(1e5 - 200.1 - 0.2001)


def test_sell_fills_below_mark_and_closing_leaves_the_symbol_flat(
    make: MakeExchange, r: redis.Redis, epoch: int
) -> None:
    ex = make(fee_bps=10, slippage_bps=5)
    ex.submit(intent("open", "BUY", 1.0), epoch, 100.0, NOW)
    close = ex.submit(intent("close", "SELL", 1.0), epoch, 110.0, NOW + 1)
    assert close.fill is not None
    assert close.fill.price == pytest.approx(109.945)  # 5 bps against the seller
    assert close.fill.position_after == 0.0
    # Round trip: paid 100.05 + 0.10005 fee, received 109.945 - 0.109945 fee.
    assert ex.state().cash_usd == pytest.approx(1e5 - 100.05 - 0.10005 + 109.945 - 0.109945)
    assert ex.state().positions == {}
    assert r.xlen(KEYS.fills(ACCOUNT)) == 2
    assert r.hlen(KEYS.orders(ACCOUNT)) == 2
    assert r.zcard(KEYS.order_index(ACCOUNT)) == 2  # each record's age, for its expiry


def test_a_short_is_a_negative_position(make: MakeExchange, epoch: int) -> None:
    ex = make()
    ex.submit(intent("s", "SELL", 3.0), epoch, 50.0, NOW)
    assert ex.state().positions == {"BTCUSDT": -3.0}
    assert ex.state().cash_usd == pytest.approx(1e5 + 150.0)


def test_a_duplicate_client_order_id_is_refused(
    make: MakeExchange, r: redis.Redis, epoch: int
) -> None:
    ex = make(fee_bps=10)
    first = ex.submit(intent("p1"), epoch, 100.0, NOW)
    again = ex.submit(intent("p1"), epoch, 101.0, NOW + 5)
    assert again.label == "duplicate"
    assert again.fill == first.fill  # the original fill, for the caller's records
    assert ex.state().positions == {"BTCUSDT": 1.0}
    assert r.xlen(KEYS.fills(ACCOUNT)) == 1
    # Another intent (or the same one with another quantity) is another order.
    assert ex.submit(intent("p1", qty=2.0), epoch, 100.0, NOW).label == "filled"


def test_an_order_with_a_stale_epoch_is_refused_after_another_instance_acquired(
    make: MakeExchange, r: redis.Redis, epoch: int
) -> None:
    ex = make()
    r.delete(KEYS.leader(ACCOUNT))  # leader-a's lease expired
    lease_b = RedisLease(
        r, KEYS.bot_leadership(ACCOUNT), "leader-b", lease_seconds=30
    ).acquire_or_renew(0.0)
    assert lease_b is not None
    assert lease_b.epoch == epoch + 1
    zombie = ex.submit(intent("z"), epoch, 100.0, NOW)
    assert (zombie.label, zombie.reason) == ("stale_epoch", f"current epoch is {epoch + 1}")
    assert ex.state().positions == {}
    assert r.xlen(KEYS.fills(ACCOUNT)) == 0
    assert ex.submit(intent("z"), lease_b.epoch, 100.0, NOW).label == "filled"
    # The zombie's replay of that same intent is still refused, first for its epoch.
    assert ex.submit(intent("z"), epoch, 100.0, NOW).label == "stale_epoch"


def test_halted_by_the_spec_blocks_entries_but_exits_still_run(
    make: MakeExchange, epoch: int
) -> None:
    make().submit(intent("open", "BUY", 2.0), epoch, 100.0, NOW)
    halted = make(halted=True)
    assert halted.submit(intent("more", "BUY"), epoch, 100.0, NOW).label == "rejected:halted"
    assert halted.submit(intent("new", "BUY", symbol="ETHUSDT"), epoch, 10.0, NOW).label == (
        "rejected:halted"
    )
    assert halted.submit(intent("flip", "SELL", 3.0), epoch, 100.0, NOW).label == (
        "rejected:halted"
    )  # a flip opens a short: an entry
    assert halted.submit(intent("trim", "SELL", 1.0), epoch, 100.0, NOW).label == "filled"
    assert halted.submit(intent("exit", "SELL", 1.0), epoch, 100.0, NOW).label == "filled"
    assert halted.state().positions == {}


def test_halted_by_the_redis_control_key(make: MakeExchange, r: redis.Redis, epoch: int) -> None:
    ex = make()
    ex.submit(intent("open"), epoch, 100.0, NOW)
    r.set(KEYS.halted, "1")
    assert ex.submit(intent("more"), epoch, 100.0, NOW).label == "rejected:halted"
    assert ex.submit(intent("exit", "SELL"), epoch, 100.0, NOW).label == "filled"
    r.set(KEYS.halted, "0")
    assert ex.submit(intent("more"), epoch, 100.0, NOW).label == "filled"


def test_notional_cap_applies_to_entries_only(make: MakeExchange, epoch: int) -> None:
    ex = make(max_order_notional_usd=500.0)
    assert ex.submit(intent("big", qty=6.0), epoch, 100.0, NOW).label == "rejected:notional_cap"
    assert ex.submit(intent("ok1", qty=5.0), epoch, 100.0, NOW).label == "filled"
    assert ex.submit(intent("ok2", qty=5.0), epoch, 100.0, NOW).label == "filled"
    assert ex.submit(intent("exit", "SELL", 10.0), epoch, 100.0, NOW).label == "filled"


def test_max_open_positions(make: MakeExchange, epoch: int) -> None:
    ex = make(max_open_positions=2)
    assert ex.submit(intent("a", symbol="BTCUSDT"), epoch, 100.0, NOW).label == "filled"
    assert ex.submit(intent("b", symbol="ETHUSDT"), epoch, 10.0, NOW).label == "filled"
    third = ex.submit(intent("c", symbol="SOLUSDT"), epoch, 1.0, NOW)
    assert third.label == "rejected:max_open_positions"
    assert ex.submit(intent("a2", symbol="BTCUSDT"), epoch, 100.0, NOW).label == "filled"
    assert ex.submit(intent("x", "SELL", symbol="ETHUSDT"), epoch, 10.0, NOW).label == "filled"
    assert ex.submit(intent("c", symbol="SOLUSDT"), epoch, 1.0, NOW).label == "filled"


def test_order_rate_limit_per_minute(make: MakeExchange, epoch: int) -> None:
    ex = make(max_orders_per_minute=3)
    for i in range(3):
        assert ex.submit(intent(f"o{i}"), epoch, 100.0, NOW + i).label == "filled"
    assert ex.submit(intent("o3"), epoch, 100.0, NOW + 10).label == "rejected:rate_limit"
    assert ex.submit(intent("exit", "SELL"), epoch, 100.0, NOW + 10).label == "filled"
    # The first fill leaves the 60 s window at NOW + 60; two remain, plus the exit.
    assert ex.submit(intent("o3"), epoch, 100.0, NOW + 60.5).label == "rejected:rate_limit"
    assert ex.submit(intent("o3"), epoch, 100.0, NOW + 61.5).label == "filled"


def test_malformed_orders_and_a_missing_account_are_rejected(
    make: MakeExchange, r: redis.Redis, epoch: int
) -> None:
    ex = make()
    assert ex.submit(intent("p"), epoch, 0.0, NOW).label == "rejected:bad_price"
    r.delete(KEYS.account(ACCOUNT))
    assert ex.submit(intent("p"), epoch, 100.0, NOW).label == "rejected:no_account"
    with pytest.raises(ValueError, match="qty"):
        intent("p", qty=0.0)


def test_a_restarted_bot_keeps_its_positions_and_duplicates_no_order(
    make: MakeExchange, r: redis.Redis, epoch: int
) -> None:
    before = make(fee_bps=10)
    before.submit(intent("p1", qty=2.0), epoch, 100.0, NOW)
    before.submit(intent("p2", symbol="ETHUSDT"), epoch, 10.0, NOW)
    snapshot = before.state()

    after = make(fee_bps=10)  # new objects; open() must not reset the cash
    assert after.state() == snapshot
    assert after.submit(intent("p1", qty=2.0), epoch, 100.0, NOW + 30).label == "duplicate"
    assert after.submit(intent("p2", symbol="ETHUSDT"), epoch, 10.0, NOW).label == "duplicate"
    assert after.state() == snapshot
    assert r.xlen(KEYS.fills(ACCOUNT)) == 2


def test_a_retry_after_a_lost_reply_finds_its_own_fill(
    make: MakeExchange, r: redis.Redis, epoch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script ran but the reply was lost (a failover, a timeout): the retry is not a
    second order, and the caller learns its order filled."""
    ex = make()
    real_execute = redis.client.Pipeline.execute
    lost: list[bool] = []

    def execute_then_lose_reply(self: redis.client.Pipeline, raise_on_error: bool = True) -> Any:
        replies = real_execute(self, raise_on_error)
        if not lost:
            lost.append(True)
            raise redis.ConnectionError("connection reset after the write")
        return replies

    monkeypatch.setattr(redis.client.Pipeline, "execute", execute_then_lose_reply)
    result = ex.submit(intent("p1"), epoch, 100.0, NOW)
    assert (result.label, result.recovered) == ("filled", True)
    assert r.xlen(KEYS.fills(ACCOUNT)) == 1
    monkeypatch.undo()
    replay = ex.submit(intent("p1"), epoch, 100.0, NOW)
    assert (replay.label, replay.recovered) == ("duplicate", False)
