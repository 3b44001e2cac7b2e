"""The live exchange adapter: the real ccxt client against a fake Binance on loopback.

Every order passes the Redis chokepoint (real redis-server) before ccxt sends it; the
fake scripts the exchange's answers: fills, partial fills, refusals, 429s, 5xx and a
reply that never comes after the order was accepted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import cast

import ccxt
import pytest
import redis
from tests.harness.fake_binance import Partial, Reply, Rest, Stall
from tests.harness.live_venue import PRICES, Venue, live_venue, venue_client
from tests.harness.loopback_guard import loopback_only
from tests.harness.processes import DEADLINE
from tests.harness.reservations import released

from tradingstack_workers.bots.execution import ExecResult, OrderIntent, open_orders
from tradingstack_workers.bots.execution.venue import VenueCalls
from tradingstack_workers.wire.drift import DriftAlert
from tradingstack_workers.wire.reservation import Reservation

pytestmark = pytest.mark.integration


client = venue_client  # the fixture these tests take


def intent(
    intent_id: str, side: str = "BUY", qty: float = 0.02, symbol: str = "BTCUSDT"
) -> OrderIntent:
    return OrderIntent("live", "bot", intent_id, symbol, "BUY" if side == "BUY" else "SELL", qty)


def submit(venue: Venue, order: OrderIntent, epoch: int = 1) -> ExecResult:
    deadline = time.monotonic() + 30
    return venue.exchange.submit(order, epoch, PRICES[order.symbol], time.time(), deadline=deadline)


def position(venue: Venue, symbol: str = "BTCUSDT") -> float:
    return float(venue.client.hget(venue.keys.positions("live"), symbol) or 0.0)


def entries(client: redis.Redis, key: str) -> list[dict[str, str]]:
    raw = cast(list[tuple[str, dict[str, str]]], client.xrange(key))
    return [fields for _, fields in raw]


def fills(venue: Venue) -> list[dict[str, str]]:
    return entries(venue.client, venue.keys.fills("live"))


def test_ccxt_is_refused_any_host_but_loopback() -> None:
    """The guard every live test runs under: ccxt with Binance's own URLs gets nowhere."""
    real = ccxt.binance({"timeout": 2000})
    with loopback_only() as violations, pytest.raises(ccxt.NetworkError):
        real.fetch_time()
    assert violations
    assert "binance" in violations[0]


def test_a_filled_order_is_on_the_exchange_and_in_the_ledger_once(client: redis.Redis) -> None:
    with live_venue(client) as venue:
        order = intent("p1")
        result = submit(venue, order)
        assert result.status == "filled"
        assert result.fill is not None
        assert result.fill.qty == pytest.approx(0.02)
        assert [o.client_order_id for o in venue.fake.accepted()] == [order.client_order_id]
        assert position(venue) == pytest.approx(0.02)
        assert len(fills(venue)) == 1
        cash = float(str(client.hget(venue.keys.account("live"), "cash")))
        assert cash == pytest.approx(100_000 - 1_000 - 1.0)  # notional and the 0.1 % fee
        again = submit(venue, order)
        assert again.status == "duplicate"
        assert venue.fake.count("POST", "/api/v3/order") == 1


def test_signed_requests_carry_our_key_and_a_valid_signature(client: redis.Redis) -> None:
    """The fake verifies Binance's HMAC signature: a wrong secret is refused."""
    with live_venue(client) as venue:
        venue.exchange.calls.client.secret = "not-the-secret"
        result = submit(venue, intent("p-bad-signature"))
        assert result.status == "rejected"
        assert result.reason == "exchange_AuthenticationError"
        assert venue.fake.accepted() == []
        assert venue.fake.count("POST", "/api/v3/order", 400) == 1


def test_timeout_after_accept_leaves_exactly_one_order(client: redis.Redis) -> None:
    with live_venue(client) as venue:
        venue.fake.script("POST /api/v3/order", Stall())
        order = intent("p-timeout")
        result = submit(venue, order)
        venue.fake.release_stalled()
        assert result.status == "filled"
        assert len(venue.fake.orders_by_client_id(order.client_order_id)) == 1
        assert venue.fake.count("POST", "/api/v3/order") == 1  # looked up, never re-sent
        assert venue.fake.count("GET", "/api/v3/order") >= 1
        assert len(fills(venue)) == 1
        assert position(venue) == pytest.approx(0.02)
        assert client.scard(venue.keys.inflight("live")) == 0


def test_5xx_then_not_found_is_sent_again_once(client: redis.Redis) -> None:
    """A 503 that was not processed: looked up after its window, absent, sent again."""
    with live_venue(client) as venue:
        venue.fake.script("POST /api/v3/order", Reply(503, 0, "Service Unavailable."))
        order = intent("p-503")
        result = submit(venue, order)
        assert result.status == "filled"
        assert len(venue.fake.orders_by_client_id(order.client_order_id)) == 1
        assert venue.fake.count("POST", "/api/v3/order") == 2
        assert position(venue) == pytest.approx(0.02)


def test_partial_fill_is_recorded_as_filled(client: redis.Redis) -> None:
    with live_venue(client) as venue:
        venue.fake.script("POST /api/v3/order", Partial(0.5))
        result = submit(venue, intent("p-partial"))
        assert result.status == "filled"
        assert result.reason == "partial_fill"
        assert result.fill is not None
        assert result.fill.qty == pytest.approx(0.01)
        assert position(venue) == pytest.approx(0.01)


def test_refusal_is_final_and_changes_nothing(client: redis.Redis) -> None:
    with live_venue(client) as venue:
        result = submit(venue, intent("p-broke", qty=5.0))  # 250 000 USDT: more than held
        assert result.status == "rejected"
        assert result.reason == "exchange_InsufficientFunds"
        assert venue.fake.accepted() == []
        assert position(venue) == 0.0
        assert client.scard(venue.keys.inflight("live")) == 0


def test_less_than_one_lot_is_refused_before_the_chokepoint(client: redis.Redis) -> None:
    """ccxt rounds to the exchange's lot step; an order below one lot is a refusal the
    bot records, not an exception that would fail its step on every retry of the bar."""
    with live_venue(client) as venue:
        result = submit(venue, intent("p-dust", qty=0.000001))
        assert (result.status, result.reason) == ("rejected", "below_lot_size")
        assert venue.fake.count("POST", "/api/v3/order") == 0
        assert client.hlen(venue.keys.orders("live")) == 0


def reserve(venue: Venue, proposal_id: str, expires_in: float) -> None:
    """The gate's reservation of a granted permit (BTCUSDT, 0.02 at the test's price)."""
    held = Reservation(proposal_id, "BTCUSDT", 0.02, PRICES["BTCUSDT"], time.time() + expires_in)
    venue.client.hset(venue.keys.reservations, proposal_id, held.to_json())


def submit_reserved(venue: Venue, order: OrderIntent, reservation: str) -> ExecResult:
    return venue.exchange.submit(
        order, 1, PRICES[order.symbol], time.time(), reservation=reservation,
        deadline=time.monotonic() + 30,
    )  # fmt: skip


def test_a_fill_ends_the_permits_reservation_with_the_position_snapshot(
    client: redis.Redis,
) -> None:
    """As on the paper exchange: the gate sees the fill in the snapshot at the instant
    the reservation goes (one script); a refusal ends the reservation too."""
    with live_venue(client) as venue:
        reserve(venue, "prop-1", 60)
        assert submit_reserved(venue, intent("p-reserved"), "prop-1").status == "filled"
        assert not client.hexists(venue.keys.reservations, "prop-1")
        snapshot = cast(dict[str, str], client.hgetall(venue.keys.snapshot("BTCUSDT")))
        assert float(snapshot["position_amt"]) == pytest.approx(0.02)
        # The account's part of the stack's book (runtime.book), summed into position_amt.
        assert float(snapshot[f"position_amt:{venue.exchange.account}"]) == pytest.approx(0.02)
        assert client.sismember(venue.keys.snapshot_index, "BTCUSDT")  # found without SCAN
        reserve(venue, "prop-2", 60)
        broke = submit_reserved(venue, intent("p-broke-reserved", qty=5.0), "prop-2")
        assert (broke.status, broke.reason) == ("rejected", "exchange_InsufficientFunds")
        assert not client.hexists(venue.keys.reservations, "prop-2")
        # Each end counted and logged for the gates (runtime.releases).
        assert released(client, venue.keys) == (2, ["prop-1", "prop-2"])


def test_an_entry_whose_reservation_expired_never_reaches_the_exchange(
    client: redis.Redis,
) -> None:
    with live_venue(client) as venue:
        reserve(venue, "prop-old", -1)
        result = submit_reserved(venue, intent("p-late"), "prop-old")
        assert (result.status, result.reason) == ("rejected", "permit_expired")
        assert venue.fake.count("POST", "/api/v3/order") == 0
        assert not client.hexists(venue.keys.reservations, "prop-old")
        assert released(client, venue.keys) == (1, ["prop-old"])


def test_a_spot_account_is_not_sent_a_short(client: redis.Redis) -> None:
    with live_venue(client) as venue:
        result = submit(venue, intent("p-short", side="SELL"))
        assert (result.status, result.reason) == ("rejected", "spot_short")
        assert venue.fake.count("POST", "/api/v3/order") == 0


def test_halted_lets_only_reducing_orders_reach_the_exchange(client: redis.Redis) -> None:
    with live_venue(client) as venue:
        assert submit(venue, intent("p-open")).status == "filled"
        client.set(venue.keys.halted, "1")
        entry = submit(venue, intent("p-more"))
        assert (entry.status, entry.reason) == ("rejected", "halted")
        entry_other = submit(venue, intent("p-eth", symbol="ETHUSDT", qty=0.5))
        assert entry_other.reason == "halted"
        sent = venue.fake.count("POST", "/api/v3/order")
        exit_ = submit(venue, intent("p-close", side="SELL", qty=0.02))
        assert exit_.status == "filled"
        assert venue.fake.count("POST", "/api/v3/order") == sent + 1
        assert [o.side for o in venue.fake.accepted()] == ["BUY", "SELL"]
        assert position(venue) == 0.0


def test_429_storm_backs_off_and_loses_or_doubles_nothing(client: redis.Redis) -> None:
    with live_venue(client, sendWindowSeconds=20.0) as venue:
        storm = Reply(429, -1003, "Too many requests; current limit is 6000.", retry_after=0)
        ban = Reply(418, -1003, "Way too many requests; IP banned until later.", retry_after=0)
        venue.fake.script("POST /api/v3/order", storm, storm, ban, storm)
        venue.fake.script("GET /api/v3/account", storm, storm)
        orders = [intent(f"p-storm-{i}", qty=0.01) for i in range(3)]
        results = [submit(venue, o) for o in orders]
        assert [r.status for r in results] == ["filled"] * 3
        for o in orders:
            assert len(venue.fake.orders_by_client_id(o.client_order_id)) == 1
        assert venue.fake.count("POST", "/api/v3/order", 429) == 3
        assert venue.fake.count("POST", "/api/v3/order", 418) == 1
        assert venue.metric("tradingstack_exchange_backoffs_total") >= 4
        # One pause per 429/418 before the next request: the fake's Retry-After (1 s when
        # scripted 0), plus up to 10 % jitter.
        assert len(venue.pauses) == 4
        assert all(1.0 <= p <= 1.1 for p in venue.pauses)
        assert (
            venue.metric(
                "tradingstack_exchange_request_errors_total",
                endpoint="create_order",
                error="DDoSProtection",
            )
            == 4
        )
        for _ in range(3):  # two polls meet a 429 and change nothing; the third writes
            assert venue.poller.poll(1, PRICES, time.time()) is None
        assert venue.metric("tradingstack_exchange_reconciles_total", outcome="failed") == 2
        assert venue.metric("tradingstack_exchange_reconciles_total", outcome="written") == 2
        assert position(venue) == pytest.approx(0.03)
        assert client.scard(venue.keys.inflight("live")) == 0


def test_a_429_pauses_every_call_for_the_exchanges_retry_after(client: redis.Redis) -> None:
    """A 429 on the poller's balance request: the order sent next waits out the
    Retry-After the exchange gave (seconds, plus up to 10 % jitter) before it goes."""
    with live_venue(client, sendWindowSeconds=20.0) as venue:
        slow_down = Reply(429, -1003, "Too many requests.", retry_after=2)
        venue.fake.script("GET /api/v3/account", slow_down)
        assert venue.poller.poll(1, PRICES, time.time()) is None
        assert venue.metric("tradingstack_exchange_reconciles_total", outcome="failed") == 1
        assert venue.pauses == []  # the pause is taken by the next call, whichever it is
        order = intent("p-retry-after")
        assert submit(venue, order).status == "filled"
        assert len(venue.pauses) == 1
        assert 2.0 <= venue.pauses[0] <= 2.2
        assert venue.fake.count("POST", "/api/v3/order") == 1
        assert len(venue.fake.orders_by_client_id(order.client_order_id)) == 1


def test_a_zombie_order_arriving_after_its_window_is_refused_by_the_exchange(
    client: redis.Redis,
) -> None:
    """Admitted under epoch 1, then the process stops past its lease; a new leader takes
    epoch 2. When the old process resumes and sends, the exchange refuses the request
    (its signed timestamp is older than its window) and no order exists."""
    with live_venue(client) as venue:
        exchange = venue.exchange
        order = intent("p-zombie")
        stamp = exchange.calls.milliseconds()
        status, _payload, _ = exchange._admit(
            order, 0.02, 1, mark=PRICES["BTCUSDT"], now=time.time(), stamp=stamp, window=1000
        )
        assert status == "admitted"
        client.set(venue.keys.fence("live"), 2)  # the new leader
        deadline = time.monotonic() + DEADLINE
        while exchange.calls.milliseconds() <= stamp + 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(ccxt.InvalidNonce):
            exchange._send(
                order.client_order_id,
                {"side": "BUY", "qty": "0.02"},
                exchange.markets["BTCUSDT"],
                stamp,
                1000,
            )
        assert [s.outcome for s in venue.fake.seen] == ["expired_window"]
        assert venue.fake.accepted() == []
        # The new leader's poller finds it absent, once no copy of it can still arrive.
        while client.scard(venue.keys.inflight("live")) and time.monotonic() < deadline:
            assert venue.poller.poll(2, PRICES, time.time()) is None
            time.sleep(0.05)
        record = json.loads(str(client.hget(venue.keys.orders("live"), order.client_order_id)))
        assert record["status"] == "not_placed"
        assert position(venue) == 0.0


def test_poller_corrects_a_ledger_changed_behind_its_back(client: redis.Redis) -> None:
    with live_venue(client) as venue:
        assert submit(venue, intent("p-held")).status == "filled"
        assert venue.poller.poll(1, PRICES, time.time()) is None  # in step: no drift
        client.hset(venue.keys.positions("live"), "BTCUSDT", "0.5")
        alert = venue.poller.poll(1, PRICES, time.time())
        assert alert is not None
        assert alert.field == "BTCUSDT"
        assert alert.ledger == 0.5
        assert alert.exchange == pytest.approx(0.02)
        assert position(venue) == pytest.approx(0.02)
        drift = entries(client, venue.keys.exchange_drift_stream("live"))
        assert [DriftAlert.from_fields(f).field for f in drift] == ["BTCUSDT"]
        assert venue.metric("tradingstack_exchange_drift_events_total") == 1
        client.hset(venue.keys.account("live"), "cash", "5")
        cash_alert = venue.poller.poll(1, PRICES, time.time())
        assert cash_alert is not None
        assert cash_alert.field == "cash"
        assert float(str(client.hget(venue.keys.account("live"), "cash"))) == pytest.approx(
            98_999.0
        )


def poll_until(venue: Venue, done: Callable[[], bool], what: str) -> None:
    """Poll as the leader until ``done``; the poller defers while a window is open."""
    deadline = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        venue.poller.poll(1, PRICES, time.time())
        time.sleep(0.05)


def record_of(venue: Venue, order: OrderIntent) -> dict[str, str]:
    raw = venue.client.hget(venue.keys.orders("live"), order.client_order_id)
    return cast(dict[str, str], json.loads(str(raw)))


def test_an_order_left_open_does_not_stall_reconciliation(client: redis.Redis) -> None:
    """Accepted and resting: recorded as open, the account still reconciled; its fill,
    when it comes, is recorded once by the poller."""
    with live_venue(client) as venue:
        venue.fake.script("POST /api/v3/order", Rest())
        order = intent("p-rest")
        result = submit(venue, order)
        assert (result.status, result.reason) == ("unknown", "order_open")
        written = venue.metric("tradingstack_exchange_reconciles_total", outcome="written")
        poll_until(
            venue,
            lambda: (
                venue.metric("tradingstack_exchange_reconciles_total", outcome="written") > written
            ),
            "a reconcile with the order open",
        )
        assert record_of(venue, order)["status"] == "open"
        assert client.sismember(venue.keys.inflight("live"), order.client_order_id)
        assert venue.metric("tradingstack_exchange_open_orders", origin="bot") == 1
        assert venue.metric("tradingstack_exchange_open_orders", origin="foreign") == 0
        assert venue.metric("tradingstack_exchange_drift_events_total") == 0
        venue.fake.fill_open(order.client_order_id)
        poll_until(venue, lambda: not client.scard(venue.keys.inflight("live")), "its fill")
        assert record_of(venue, order)["status"] == "filled"
        assert position(venue) == pytest.approx(0.02)
        assert len(fills(venue)) == 1
        assert venue.fake.count("POST", "/api/v3/order") == 1
        assert venue.metric("tradingstack_exchange_drift_events_total") == 0


def test_our_order_left_open_past_its_timeout_is_cancelled_once(client: redis.Redis) -> None:
    with live_venue(client, openOrderTimeoutSeconds=0.1) as venue:
        venue.fake.script("POST /api/v3/order", Rest())
        order = intent("p-stuck")
        assert submit(venue, order).reason == "order_open"
        poll_until(venue, lambda: not client.scard(venue.keys.inflight("live")), "the cancel")
        (placed,) = venue.fake.orders_by_client_id(order.client_order_id)
        assert placed.status == "CANCELED"
        assert record_of(venue, order)["status"] == "canceled"
        assert venue.fake.count("DELETE", "/api/v3/order") == 1
        assert venue.fake.count("POST", "/api/v3/order") == 1
        assert position(venue) == 0.0
        assert fills(venue) == []
        assert venue.metric("tradingstack_exchange_open_orders", origin="bot") == 0


def test_a_foreign_open_order_is_reported_once_and_never_cancelled(
    client: redis.Redis,
) -> None:
    """An order placed on the same key by someone else (here: ccxt directly, past the
    chokepoint) is drift: one alert while it rests, then its fill corrects the ledger."""
    with live_venue(client) as venue:
        venue.fake.script("POST /api/v3/order", Rest())
        venue.exchange.calls.client.create_order(
            "BTC/USDT", "market", "buy", 0.02, None, {"clientOrderId": "by-hand-1"}
        )
        alert = venue.poller.poll(1, PRICES, time.time())
        assert alert is not None
        assert (alert.field, alert.ledger, alert.exchange) == ("order:by-hand-1", 0.0, 0.02)
        assert alert.drift_usd == pytest.approx(0.02 * PRICES["BTCUSDT"])
        assert venue.metric("tradingstack_exchange_open_orders", origin="foreign") == 1
        assert venue.poller.poll(1, PRICES, time.time()) is None  # reported once
        drift = entries(client, venue.keys.exchange_drift_stream("live"))
        assert [DriftAlert.from_fields(f).field for f in drift] == ["order:by-hand-1"]
        assert venue.metric("tradingstack_exchange_drift_events_total") == 1
        assert venue.fake.count("DELETE", "/api/v3/order") == 0
        assert position(venue) == 0.0
        venue.fake.fill_open("by-hand-1")
        filled = venue.poller.poll(1, PRICES, time.time())  # the worst: cash, paid 1 001
        assert filled is not None
        assert filled.field == "cash"
        assert filled.exchange == pytest.approx(98_999.0)
        assert position(venue) == pytest.approx(0.02)
        assert venue.metric("tradingstack_exchange_open_orders", origin="foreign") == 0


@pytest.mark.parametrize(("up_to", "requests"), [(10, 2), (1, 1)])
def test_open_orders_one_request_per_symbol_for_a_few_symbols(
    client: redis.Redis, monkeypatch: pytest.MonkeyPatch, up_to: int, requests: int
) -> None:
    """Two symbols: one listing each (Binance weighs a listing of all as 13); past
    PER_SYMBOL_UP_TO symbols, one listing of all; the same foreign order either way."""
    monkeypatch.setattr(open_orders, "PER_SYMBOL_UP_TO", up_to)
    with live_venue(client) as venue:
        venue.fake.script("POST /api/v3/order", Rest())
        venue.exchange.calls.client.create_order(
            "ETH/USDT", "market", "buy", 0.5, None, {"clientOrderId": "by-hand-2"}
        )
        before = venue.fake.count("GET", "/api/v3/openOrders")
        alert = venue.poller.poll(1, PRICES, time.time())
        assert venue.fake.count("GET", "/api/v3/openOrders") - before == requests
        assert alert is not None
        assert alert.field == "order:by-hand-2"


def test_a_refused_key_fails_the_poll_and_changes_nothing(client: redis.Redis) -> None:
    """A key revoked or restricted: the poll fails (counted, alerted), writes nothing,
    and raises nothing into the bot's step, which would poll again at once."""
    with live_venue(client) as venue:
        client.hset(venue.keys.positions("live"), "BTCUSDT", "0.5")
        venue.exchange.calls.client.secret = "revoked"
        assert venue.poller.poll(1, PRICES, time.time()) is None
        assert venue.metric("tradingstack_exchange_reconciles_total", outcome="failed") == 1
        errors = venue.metric(
            "tradingstack_exchange_request_errors_total",
            endpoint="fetch_balance",
            error="AuthenticationError",
        )
        assert errors == 1
        assert position(venue) == 0.5
        assert client.xlen(venue.keys.exchange_drift_stream("live")) == 0


def test_poller_of_a_deposed_leader_writes_nothing(client: redis.Redis) -> None:
    with live_venue(client) as venue:
        client.hset(venue.keys.positions("live"), "BTCUSDT", "0.5")
        client.set(venue.keys.fence("live"), 2)
        assert venue.poller.poll(1, PRICES, time.time()) is None
        assert position(venue) == 0.5
        assert client.xlen(venue.keys.exchange_drift_stream("live")) == 0


def test_an_unresolved_order_is_resolved_by_the_poller(client: redis.Redis) -> None:
    """The reply never comes and every lookup fails: the order stays in flight, the
    poll defers, and the next poll that can look it up records it once."""
    with live_venue(client) as venue:
        venue.fake.script("POST /api/v3/order", Stall())
        venue.fake.script("GET /api/v3/order", *[Reply(503, 0, "busy")] * 5)
        order = intent("p-lost-reply")
        result = submit(venue, order)
        venue.fake.release_stalled()
        assert result.status == "unknown"
        assert client.sismember(venue.keys.inflight("live"), order.client_order_id)
        assert position(venue) == 0.0
        assert venue.poller.poll(1, PRICES, time.time()) is None
        assert client.scard(venue.keys.inflight("live")) == 0
        assert position(venue) == pytest.approx(0.02)
        assert len(fills(venue)) == 1
        assert len(venue.fake.accepted()) == 1


def test_calls_are_measured_by_endpoint(client: redis.Redis) -> None:
    with live_venue(client) as venue:
        submit(venue, intent("p-metrics"))
        count = venue.metric(
            "tradingstack_exchange_request_duration_seconds_count", endpoint="create_order"
        )
        assert count == 1
        assert (
            venue.metric(
                "tradingstack_exchange_request_duration_seconds_count", endpoint="fetch_balance"
            )
            >= 1
        )
        assert isinstance(venue.exchange.calls, VenueCalls)


def test_futures_fills_positions_and_reconciles_without_drift(client: redis.Redis) -> None:
    """USD-M futures: a short is allowed, and the poller's cash (margin balance less the
    positions at their marks) matches what the fills recorded."""
    with live_venue(client, marketType="futures") as venue:
        assert submit(venue, intent("f-long")).status == "filled"
        assert venue.poller.poll(1, PRICES, time.time()) is None
        short = submit(venue, intent("f-flip", side="SELL", qty=0.04))
        assert short.status == "filled"
        assert venue.poller.poll(1, PRICES, time.time()) is None
        assert position(venue) == pytest.approx(-0.02)
        assert venue.fake.count("POST", "/fapi/v1/order") == 2
        assert venue.metric("tradingstack_exchange_drift_events_total") == 0
        client.hset(venue.keys.positions("live"), "BTCUSDT", "0")
        alert = venue.poller.poll(1, PRICES, time.time())
        assert alert is not None
        assert alert.exchange == pytest.approx(-0.02)
