"""The trading key's permissions, read from the fake Binance (``apiRestrictions``) by the
real ccxt client when the live adapter opens: a key that can withdraw never trades."""

from __future__ import annotations

import logging
import time

import pytest
import redis
from tests.harness.fake_binance import Reply
from tests.harness.live_venue import PRICES, Venue, live_venue, venue_client

from tradingstack_workers.bots.execution import OrderIntent
from tradingstack_workers.bots.execution.key_permissions import KeyRefused, KeyWatch

pytestmark = pytest.mark.integration

RESTRICTIONS = "/sapi/v1/account/apiRestrictions"


client = venue_client  # the fixture these tests take


def buy(intent_id: str) -> OrderIntent:
    return OrderIntent("live", "bot", intent_id, "BTCUSDT", "BUY", 0.02)


def test_a_key_that_can_withdraw_is_refused_until_it_cannot(client: redis.Redis) -> None:
    with live_venue(client, key={"enableWithdrawals": True}, opened=False) as venue:
        with pytest.raises(KeyRefused, match=r"^exchange\.credentialsSecret: the key can withdraw"):
            venue.exchange.open()
        assert venue.exchange.markets == {}  # not opened: nothing can be submitted
        assert venue.fake.count("GET", RESTRICTIONS, 200) == 1
        assert venue.fake.count("GET", "/api/v3/exchangeInfo") == 0
        assert venue.metric("tradingstack_exchange_key_permission", permission="withdraw") == 1
        assert venue.metric("tradingstack_exchange_key_permissions_known") == 1
        # A person replaces the key with a trading-only one: the next start trades.
        venue.fake.key_restrictions["enableWithdrawals"] = False
        venue.exchange.open()
        assert venue.metric("tradingstack_exchange_key_permission", permission="withdraw") == 0
        assert venue.poller.poll(1, PRICES, time.time()) is None  # the ledger, as a bot does
        result = venue.exchange.submit(
            buy("k-after"), 1, PRICES["BTCUSDT"], time.time(), deadline=time.monotonic() + 30
        )
        assert (result.status, result.reason) == ("filled", "")
        assert venue.fake.count("POST", "/api/v3/order") == 1


def test_a_key_that_cannot_trade_the_bots_market_is_refused(client: redis.Redis) -> None:
    with live_venue(
        client, key={"enableFutures": False}, opened=False, marketType="futures"
    ) as venue:
        with pytest.raises(KeyRefused, match="the key may not trade futures"):
            venue.exchange.open()
        assert venue.metric("tradingstack_exchange_key_permission", permission="trade") == 0


def test_a_key_that_can_transfer_trades_and_is_reported(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with live_venue(client, key={"permitsUniversalTransfer": True, "ipRestrict": False}) as venue:
        assert venue.exchange.key is not None
        assert venue.exchange.key.transfer is True
        assert venue.metric("tradingstack_exchange_key_permission", permission="transfer") == 1
        warned = {r.getMessage() for r in caplog.records}
        assert "exchange key: the key can transfer funds between accounts" in warned
        assert "exchange key: the key is not restricted to the cluster's egress IPs" in warned


def test_a_trading_only_key_is_read_once_and_warns_of_nothing(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with live_venue(client) as venue:
        venue.exchange.open()  # opened already: not read again
        assert venue.fake.count("GET", RESTRICTIONS) == 1
        assert venue.metric("tradingstack_exchange_key_permission", permission="trade") == 1
        assert venue.metric("tradingstack_exchange_key_permission", permission="withdraw") == 0
        assert not [r for r in caplog.records if r.getMessage().startswith("exchange key")]


def errors_of(venue: Venue, endpoint: str) -> float:
    """Failed requests of ``endpoint``, whatever ccxt's error class."""
    return sum(
        sample.value
        for family in venue.registry.collect()
        for sample in family.samples
        if sample.name == "tradingstack_exchange_request_errors_total"
        and sample.labels.get("endpoint") == endpoint
    )


def test_a_key_that_gains_withdrawals_while_trading_is_reported_not_refused(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Read again when due: the gauge (and so the alert) and an error log say it; the bot
    keeps trading, since stopping mid-run would leave its positions unmanaged."""
    caplog.set_level(logging.WARNING)
    with live_venue(client) as venue:
        exchange = venue.exchange
        watch = KeyWatch(exchange.calls, exchange.config, started=0.0, every_s=10.0)
        venue.fake.key_restrictions["enableWithdrawals"] = True
        watch.tick(9.0)  # not due yet
        assert venue.fake.count("GET", RESTRICTIONS) == 1
        assert venue.metric("tradingstack_exchange_key_permission", permission="withdraw") == 0
        watch.tick(10.0)
        assert venue.fake.count("GET", RESTRICTIONS) == 2
        assert venue.metric("tradingstack_exchange_key_permission", permission="withdraw") == 1
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert errors == [
            "exchange key: the key can withdraw funds (binance GET /sapi/v1/account/"
            "apiRestrictions: withdrawals enabled); a bot trades only with a key that has"
            " trading permission alone: create one without withdrawals and put it in the"
            " Secret (found while trading: replace the key)"
        ]
        result = exchange.submit(
            buy("k-still"), 1, PRICES["BTCUSDT"], time.time(), deadline=time.monotonic() + 30
        )
        assert result.status == "filled"
        venue.fake.script("GET " + RESTRICTIONS, Reply(503, 0, "Service Unavailable."))
        watch.tick(20.0)  # a failed read is counted, never raised into the bot's step
        assert errors_of(venue, "key_permissions") == 1
        assert venue.fake.count("GET", RESTRICTIONS, 503) == 1
