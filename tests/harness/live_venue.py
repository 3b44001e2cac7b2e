"""A live exchange on a test's Redis, trading the fake Binance through the real ccxt client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import redis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from tests.conftest import TEST_PASSWORD
from tests.harness.fake_binance import FakeBinance
from tests.harness.loopback_guard import loopback_only
from tests.harness.pause_clock import PauseClock
from tests.harness.redis_procs import RedisProcess
from tradingstack_workers.bots.execution import Protections
from tradingstack_workers.bots.execution.live import LiveExchange
from tradingstack_workers.bots.execution.poller import AccountPoller, PollerMetrics
from tradingstack_workers.bots.execution.venue import VenueCalls, VenueMetrics, connect
from tradingstack_workers.bots.execution.venue_config import Credentials, VenueConfig
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.redis_client import RetryPolicy

API_KEY = "fake-key-0123456789abcdef"
SECRET = "fake-secret-fedcba9876543210"
SYMBOLS = ("BTCUSDT", "ETHUSDT")
PRICES = {"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0}


@pytest.fixture
def venue_client(redis_proc: RedisProcess) -> redis.Redis:
    """A client of the test's Redis for :func:`live_venue` (decoded replies). A test module
    takes it as its ``client`` fixture with ``client = venue_client``."""
    return redis.Redis(port=redis_proc.port, password=TEST_PASSWORD, decode_responses=True)


def sleep_wait(seconds: float) -> bool:
    """The worker's pause, outside a worker: sleep, never stopping."""
    time.sleep(seconds)
    return True


@dataclass
class Venue:
    fake: FakeBinance
    exchange: LiveExchange
    poller: AccountPoller
    registry: CollectorRegistry
    keys: Keys
    client: redis.Redis
    #: Every pause the exchange's calls asked for after a 429/418, in seconds.
    pauses: list[float]

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def venue_config(fake: FakeBinance, **overrides: object) -> VenueConfig:
    fields: dict[str, object] = {
        "id": "binance",
        "marketType": "spot",
        "sandbox": False,
        "apiUrl": fake.url,
        "timeoutSeconds": 2.0,
        "sendWindowSeconds": 2.0,
        "driftToleranceUsd": 1.0,
    }
    fields.update(overrides)
    return VenueConfig.model_validate(fields)


@contextmanager
def live_venue(
    client: redis.Redis,
    *,
    account: str = "live",
    protections: Protections | None = None,
    balances: dict[str, float] | None = None,
    key: dict[str, object] | None = None,
    opened: bool = True,
    **overrides: object,
) -> Iterator[Venue]:
    """A fake Binance, the ccxt client pointed at it (loopback only), the adapter and
    its poller, with epoch 1 current for ``account``; ``key`` changes the fake key's
    permissions (Binance's apiRestrictions flags); ``opened`` False leaves the adapter
    unopened (its key unchecked, no markets) and the ledger unpolled."""
    fake = FakeBinance(
        API_KEY, SECRET, prices=dict(PRICES), balances=balances or {"USDT": 100_000.0}
    ).start()
    fake.key_restrictions.update(key or {})
    keys = Keys(prefix="t")
    registry = CollectorRegistry()
    config = venue_config(fake, **overrides)
    credentials = Credentials(api_key=SecretStr(API_KEY), secret=SecretStr(SECRET))
    pauses = PauseClock()  # the 429 pauses as decided, whatever the load (pause_clock.py)
    calls = VenueCalls(
        connect(config, credentials),
        VenueMetrics.create(registry),
        pauses.wait,
        monotonic=pauses.monotonic,
    )
    retry = RetryPolicy(budget_seconds=2.0)
    exchange = LiveExchange(
        client,
        retry,
        keys,
        account,
        calls=calls,
        config=config,
        symbols=SYMBOLS,
        protections=protections or Protections(),
        wait=sleep_wait,
        monotonic=time.monotonic,
    )
    poller = AccountPoller(client, retry, keys, exchange, PollerMetrics.create(registry))
    client.set(keys.fence(account), 1)
    try:
        with loopback_only() as violations:
            if opened:
                exchange.open()
                poller.poll(1, PRICES, time.time())
            yield Venue(fake, exchange, poller, registry, keys, client, pauses.pauses)
        assert violations == [], f"requests left loopback: {violations}"
    finally:
        fake.stop()
