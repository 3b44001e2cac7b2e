"""A real exchange through ccxt: how to reach it, and its calls measured and throttled.

:class:`VenueConfig` is what ``TS_EXCHANGE`` (rendered from ``spec.bots[].exchange``)
carries; the credentials come from the Secret through their own variables and stay
in :class:`Credentials` (``SecretStr``: never printed, logged or put in a status).

:func:`connect` builds the ccxt client: its rate limiter on, ccxt's sandbox (testnet)
when ``sandbox`` is true, and every API URL moved to ``api_url`` when one is given (a
regional endpoint or a proxy; the tests' fake exchange on loopback).

:class:`VenueCalls` is the only way the bot calls the exchange. Per unified ccxt
method (the endpoint) it measures latency and counts errors by ccxt's exception
class; after a 429 or 418 (ccxt's ``DDoSProtection``) every call waits for the
``Retry-After`` the exchange sent, or a doubling pause, before it asks again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..metrics import (
    BACKOFFS,
    KEY_PERMISSION,
    KEY_PERMISSIONS_KNOWN,
    REQUEST_DURATION,
    REQUEST_ERRORS,
)
from .lean_ccxt import exchange_class
from .venue_config import Credentials, MarketType, VenueConfig, VenueError

log = logging.getLogger(__name__)

T = TypeVar("T")

_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: The longest a 429/418 pause grows to without a Retry-After from the exchange.
MAX_BACKOFF_SECONDS = 60.0


class _RedactCredentials(logging.Filter):
    """Replaces the trading key's values with ``***`` in ccxt's own log records: at DEBUG
    (``TS_LOG_LEVEL=DEBUG``) ccxt logs every request with its headers, the API key
    among them."""

    def __init__(self) -> None:
        super().__init__()
        self.values: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        hidden = [value for value in self.values if value in text]
        if hidden:
            for value in hidden:
                text = text.replace(value, "***")
            record.msg, record.args = text, None
        return True


_KEYS = ("apiKey", "secret", "password")
#: One filter for every client of the process (a reconnect adds no second filter).
_REDACT = _RedactCredentials()
logging.getLogger("ccxt.base.exchange").addFilter(_REDACT)


def connect(config: VenueConfig, credentials: Credentials | None) -> ccxt.Exchange:
    """The ccxt client for ``config`` (markets not loaded yet: the first call does it)."""
    factory = exchange_class(config.id)
    options: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": int(config.timeout_seconds * 1000),
        "options": {
            "defaultType": "spot" if config.market_type == "spot" else "swap",
            # The poller lists every open order in one request (Binance's heavier weight,
            # still lighter than one request per symbol); ccxt refuses without this.
            "warnOnFetchOpenOrdersWithoutSymbol": False,
        },
    }
    if credentials is not None:
        options["apiKey"] = credentials.api_key.get_secret_value()
        options["secret"] = credentials.secret.get_secret_value()
        if credentials.password is not None:
            options["password"] = credentials.password.get_secret_value()
        _REDACT.values.update(str(options[key]) for key in _KEYS if key in options)
    client: ccxt.Exchange = factory(options)
    if config.sandbox:
        try:
            client.set_sandbox_mode(True)
        except ccxt.NotSupported:
            raise VenueError(
                f"exchange.sandbox: {config.id} has no sandbox (testnet) in ccxt;"
                " set sandbox: false to trade the real account"
            ) from None
    if config.api_url is not None:
        client.urls["api"] = rebase_urls(client.urls["api"], config.api_url)
    return client


def rebase_urls(urls: Any, base: str) -> Any:
    """Every URL in ccxt's ``urls['api']`` (a string or a nested map) moved to ``base``,
    keeping its path: ``https://api.binance.com/api/v3`` -> ``base/api/v3``."""
    if isinstance(urls, str):
        return base.rstrip("/") + urlsplit(urls).path
    if isinstance(urls, Mapping):
        return {key: rebase_urls(value, base) for key, value in urls.items()}
    return urls


@dataclass(frozen=True)
class VenueMetrics:
    duration: Histogram
    errors: Counter
    backoffs: Counter
    key_permission: Gauge
    key_known: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> VenueMetrics:
        return cls(
            duration=Histogram(
                REQUEST_DURATION,
                "Latency of exchange requests by ccxt method",
                ["endpoint"],
                buckets=_BUCKETS,
                registry=registry,
            ),
            errors=Counter(
                REQUEST_ERRORS,
                "Exchange requests that failed, by ccxt method and ccxt error class",
                ["endpoint", "error"],
                registry=registry,
            ),
            backoffs=Counter(
                BACKOFFS,
                "Pauses after the exchange answered 429 or 418",
                registry=registry,
            ),
            key_permission=Gauge(
                KEY_PERMISSION,
                "What the trading key may do (trade, withdraw, transfer), as the exchange"
                " reported it at start: 1 allowed, 0 not",
                ["permission"],
                registry=registry,
            ),
            key_known=Gauge(
                KEY_PERMISSIONS_KNOWN,
                "1 when the key's permissions were read from the exchange at start",
                registry=registry,
            ),
        )


class VenueCalls:
    """Measured, throttled calls to one ccxt client.

    ``wait(seconds)`` pauses the caller (beating its heartbeat) and returns False when
    the worker is stopping; ``monotonic`` is the clock of the pauses.
    """

    def __init__(
        self,
        client: ccxt.Exchange,
        metrics: VenueMetrics,
        wait: Callable[[float], bool],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self._wait = wait
        self._monotonic = monotonic
        self._paused_until = 0.0
        self._strikes = 0

    def call(self, endpoint: str, request: Callable[[], T]) -> T:
        """Run ``request`` (one ccxt call named ``endpoint``); ccxt's errors pass through."""
        pause = self._paused_until - self._monotonic()
        if pause > 0 and not self._wait(pause):
            raise ccxt.RequestTimeout(f"{endpoint}: worker stopping during a 429 pause")
        started = self._monotonic()
        try:
            result = request()
        except ccxt.BaseError as exc:
            self.metrics.duration.labels(endpoint=endpoint).observe(self._monotonic() - started)
            self.metrics.errors.labels(endpoint=endpoint, error=type(exc).__name__).inc()
            if isinstance(exc, ccxt.DDoSProtection):
                self._back_off()
            raise
        self.metrics.duration.labels(endpoint=endpoint).observe(self._monotonic() - started)
        self._strikes = 0
        return result

    def _back_off(self) -> None:
        """Pause every call: Retry-After when the exchange sent one, else 1, 2, 4 ... 60 s."""
        self._strikes += 1
        headers = self.client.last_response_headers or {}
        retry_after = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        try:
            seconds = float(retry_after) if retry_after is not None else 0.0
        except ValueError:
            seconds = 0.0
        if seconds <= 0:
            seconds = min(MAX_BACKOFF_SECONDS, 2.0 ** (self._strikes - 1))
        seconds *= 1.0 + random.uniform(0.0, 0.1)  # jitter, not security
        self._paused_until = self._monotonic() + seconds
        self.metrics.backoffs.inc()
        log.warning("exchange rate limit: pausing", extra={"seconds": round(seconds, 3)})

    def milliseconds(self) -> int:
        """The exchange's clock as ccxt signs with it (local time unless adjusted)."""
        return int(self.client.milliseconds())


@dataclass(frozen=True)
class Market:
    """One bot symbol (``BTCUSDT``) as ccxt names it (``BTC/USDT``, ``BTC/USDT:USDT``)."""

    symbol: str
    ccxt_symbol: str
    base: str
    quote: str


def markets(
    calls: VenueCalls, symbols: tuple[str, ...], market_type: MarketType
) -> dict[str, Market]:
    """Load ccxt's markets and find each bot symbol among the exchange's ids.

    Raises :class:`VenueError` naming a symbol the exchange does not list for the type.
    """
    client = calls.client
    calls.call("load_markets", client.load_markets)
    found: dict[str, Market] = {}
    for symbol in symbols:
        candidates = client.markets_by_id.get(symbol, []) if client.markets_by_id else []
        match = next((m for m in candidates if _is_type(m, market_type)), None)
        if match is None:
            raise VenueError(f"symbols: {symbol} is not a {market_type} market on {client.id}")
        found[symbol] = Market(
            symbol, str(match["symbol"]), str(match["base"]), str(match["quote"])
        )
    return found


def _is_type(market: Mapping[str, Any], market_type: MarketType) -> bool:
    if market_type == "spot":
        return bool(market.get("spot"))
    return bool(market.get("swap")) and bool(market.get("linear"))
