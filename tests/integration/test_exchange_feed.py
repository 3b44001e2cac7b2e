"""The exchange feed: candles through the real ccxt client from the fake Binance (loopback),
held to the Feed contract (closed bars only, whole steps, monotone, restartable)."""

from __future__ import annotations

from collections.abc import Iterator

import ccxt
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from tests.harness.fake_binance import FakeBinance, Reply
from tests.harness.live_venue import API_KEY, PRICES, SECRET, sleep_wait, venue_config
from tests.harness.loopback_guard import loopback_only

from tradingstack_workers.bots.execution.venue import VenueCalls, VenueMetrics, connect
from tradingstack_workers.bots.execution.venue_config import Credentials
from tradingstack_workers.bots.marketdata.exchange_feed import ExchangeFeed
from tradingstack_workers.bots.marketdata.feed import FeedError

pytestmark = pytest.mark.integration

T0 = 1_790_000_000  # a candle's open time, seconds (a whole minute)
BARS = [
    (T0 * 1000 + i * 60_000, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 10.0) for i in range(10)
]


@pytest.fixture
def feed() -> Iterator[tuple[FakeBinance, ExchangeFeed]]:
    fake = FakeBinance(API_KEY, SECRET, prices=dict(PRICES), balances={}).start()
    calls = VenueCalls(
        connect(venue_config(fake), Credentials(SecretStr(API_KEY), SecretStr(SECRET))),
        VenueMetrics.create(CollectorRegistry()),
        sleep_wait,
    )
    try:
        with loopback_only() as violations:
            yield fake, ExchangeFeed(calls, ("BTCUSDT", "ETHUSDT"), "spot", 60)
        assert violations == []
    finally:
        fake.stop()


def test_only_whole_closed_steps_in_order(feed: tuple[FakeBinance, ExchangeFeed]) -> None:
    fake, exchange_feed = feed
    fake.add_klines("BTCUSDT", BARS)
    fake.add_klines("ETHUSDT", BARS[:8])  # ETH lags two candles behind
    exchange_feed.seek(T0)
    now = T0 + 10 * 60
    bars = exchange_feed.poll(now)
    steps = sorted({b.ts for b in bars})
    assert steps == [T0 + (i + 1) * 60 for i in range(8)]  # a candle's ts is its close
    assert [(b.ts, b.symbol) for b in bars] == sorted((b.ts, b.symbol) for b in bars)
    assert all({b.symbol for b in bars if b.ts == t} == {"BTCUSDT", "ETHUSDT"} for t in steps)
    assert exchange_feed.cursor == steps[-1]
    assert exchange_feed.poll(now) == []  # nothing new until ETH catches up
    fake.add_klines("ETHUSDT", BARS[8:])
    more = exchange_feed.poll(now)
    assert sorted({b.ts for b in more}) == [T0 + 9 * 60, T0 + 10 * 60]


def test_no_look_ahead_and_history(feed: tuple[FakeBinance, ExchangeFeed]) -> None:
    fake, exchange_feed = feed
    for symbol in ("BTCUSDT", "ETHUSDT"):
        fake.add_klines(symbol, BARS)
    exchange_feed.seek(T0)
    bars = exchange_feed.poll(T0 + 5 * 60 + 30)  # candle 5 is still forming
    assert max(b.ts for b in bars) == T0 + 5 * 60
    history = exchange_feed.history(T0 + 7 * 60, 3)
    assert [b.close for b in history["BTCUSDT"]] == [104.5, 105.5, 106.5]
    assert exchange_feed.cursor == T0 + 5 * 60  # history does not move it


def test_a_429_surfaces_and_the_next_poll_resumes(feed: tuple[FakeBinance, ExchangeFeed]) -> None:
    fake, exchange_feed = feed
    for symbol in ("BTCUSDT", "ETHUSDT"):
        fake.add_klines(symbol, BARS)
    exchange_feed.seek(T0)
    exchange_feed.poll(T0 + 60)  # loads the markets
    fake.script("GET /api/v3/klines", Reply(429, -1003, "Too many requests", retry_after=0))
    with pytest.raises(ccxt.DDoSProtection):
        exchange_feed.poll(T0 + 3 * 60)
    assert exchange_feed.cursor == T0 + 60
    assert max(b.ts for b in exchange_feed.poll(T0 + 3 * 60)) == T0 + 3 * 60


def test_a_bar_length_the_exchange_lacks_is_refused(feed: tuple[FakeBinance, ExchangeFeed]) -> None:
    _, exchange_feed = feed
    with pytest.raises(FeedError, match=r"feed\.interval_s: 7"):
        ExchangeFeed(exchange_feed._calls, ("BTCUSDT",), "spot", 7)
