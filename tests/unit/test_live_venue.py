"""The live adapter's pure parts: URL rebasing, config, order reports, drift."""

from __future__ import annotations

import ccxt
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr, ValidationError
from tests.harness.pause_clock import PauseClock

from tradingstack_workers.bots.execution.live import report
from tradingstack_workers.bots.execution.poller import AccountView, drift_of
from tradingstack_workers.bots.execution.venue import (
    Market,
    VenueCalls,
    VenueMetrics,
    connect,
    rebase_urls,
)
from tradingstack_workers.bots.execution.venue_config import Credentials, VenueConfig, VenueError

BTC = Market("BTCUSDT", "BTC/USDT", "BTC", "USDT")


def test_every_api_url_moves_to_the_base_keeping_its_path() -> None:
    urls = {
        "public": "https://api.binance.com/api/v3",
        "fapi": {"v1": "https://fapi.binance.com/fapi/v1"},
    }
    assert rebase_urls(urls, "http://127.0.0.1:9/") == {
        "public": "http://127.0.0.1:9/api/v3",
        "fapi": {"v1": "http://127.0.0.1:9/fapi/v1"},
    }


def test_connect_points_ccxt_at_the_api_url_with_its_rate_limiter_on() -> None:
    config = VenueConfig.model_validate(
        {"id": "binance", "sandbox": False, "apiUrl": "http://127.0.0.1:9"}
    )
    client = connect(config, None)
    assert client.enableRateLimit is True
    assert all(str(u).startswith("http://127.0.0.1:9/") for u in client.urls["api"].values())


def test_sandbox_is_ccxts_testnet() -> None:
    client = connect(VenueConfig.model_validate({"id": "binance"}), None)
    assert "testnet" in client.urls["api"]["public"]


def test_unknown_exchange_and_bad_url_are_named() -> None:
    with pytest.raises(VenueError, match=r"exchange\.id: 'nosuchx'"):
        connect(VenueConfig.model_validate({"id": "nosuchx"}), None)
    with pytest.raises(ValidationError, match=r"api_url|apiUrl"):
        VenueConfig.model_validate({"id": "binance", "apiUrl": "ftp://x/y"})


def test_credentials_never_print() -> None:
    creds = Credentials(api_key=SecretStr("AKIA-visible?"), secret=SecretStr("s3cr3t"))
    assert "s3cr3t" not in repr(creds)
    assert "AKIA" not in str(creds)


@pytest.mark.parametrize(
    ("order", "status", "filled", "fee_quote"),
    [
        (
            {
                "status": "closed",
                "filled": 0.02,
                "cost": 1000.0,
                "fee": {"currency": "USDT", "cost": 1.0},
            },
            "filled",
            0.02,
            1.0,
        ),
        (
            {
                "status": "expired",
                "filled": 0.01,
                "cost": 500.0,
                "fees": [{"currency": "USDT", "cost": 0.5}],
            },
            "partial",
            0.01,
            0.5,
        ),
        ({"status": "expired", "filled": 0.0, "cost": 0.0}, "canceled", 0.0, 0.0),
        ({"status": "open", "filled": 0.0, "cost": 0.0}, "open", 0.0, 0.0),
        # A looked-up order states no fee: estimated at fee_bps, corrected by the poller.
        ({"status": "closed", "filled": 0.02, "cost": 1000.0}, "filled", 0.02, 1.0),
    ],
)
def test_report_reads_ccxt_orders(
    order: dict[str, object], status: str, filled: float, fee_quote: float
) -> None:
    got = report(order, BTC, fee_bps=10.0)
    assert (got.status, got.filled) == (status, filled)
    assert got.fee_quote == pytest.approx(fee_quote)


def test_fee_in_the_base_asset_is_taken_from_the_position() -> None:
    got = report(
        {
            "status": "closed",
            "filled": 0.02,
            "cost": 1000.0,
            "fee": {"currency": "BTC", "cost": 0.00002},
        },
        BTC,
        10.0,
    )
    assert (got.fee_quote, got.fee_base) == (0.0, 0.00002)


def test_drift_is_the_largest_difference_in_usd() -> None:
    ledger = AccountView(1000.0, {"BTCUSDT": 0.5, "ETHUSDT": 1.0})
    exchange = AccountView(1002.0, {"BTCUSDT": 0.4, "ETHUSDT": 1.0})
    usd, where = drift_of(ledger, exchange, {"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0})
    assert where == "BTCUSDT"
    assert usd == pytest.approx(5000.0)
    assert drift_of(ledger, ledger, {"BTCUSDT": 1.0}) == (0.0, "cash")


def rate_limited() -> None:
    raise ccxt.DDoSProtection("binance 429 Too many requests")


def test_without_retry_after_pauses_double_to_a_minute_and_a_success_resets_them() -> None:
    clock = PauseClock()
    client = ccxt.binance()
    client.last_response_headers = {}
    calls = VenueCalls(
        client, VenueMetrics.create(CollectorRegistry()), clock.wait, monotonic=clock.monotonic
    )
    for _ in range(8):
        with pytest.raises(ccxt.DDoSProtection):
            calls.call("create_order", rate_limited)
    assert calls.call("fetch_balance", lambda: "ok") == "ok"
    with pytest.raises(ccxt.DDoSProtection):  # after a success: 1 s again
        calls.call("create_order", rate_limited)
    client.last_response_headers = {"Retry-After": "3"}  # the exchange's word wins
    with pytest.raises(ccxt.DDoSProtection):
        calls.call("create_order", rate_limited)
    assert calls.call("fetch_balance", lambda: "ok") == "ok"
    floors = [1, 2, 4, 8, 16, 32, 60, 60, 1, 3]  # each pause is this, plus up to 10 % jitter
    assert len(clock.pauses) == len(floors)
    for pause, floor in zip(clock.pauses, floors, strict=True):
        assert floor <= pause <= floor * 1.1
