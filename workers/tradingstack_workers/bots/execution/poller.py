"""The account poller: the exchange's balances, positions and open orders reconciled
into the ledger.

Run by the leader only (one per account), every ``poll_seconds``: first every in-flight
order whose send window closed is looked up (:meth:`.live.LiveExchange.resolve_inflight`;
one of ours left open too long is cancelled); while any outcome is still unknown the
ledger cannot be compared and nothing is written (the next poll tries again). Then the
exchange's account is read (balance; positions for futures; open orders) and compared
with the ledger's cash and positions. A difference above ``drift_tolerance_usd`` (cash,
or a position's units at its mark) is *drift*, and so is an open order the ledger does
not hold (placed by hand or by another program on the same key), reported once when
first seen: each is an entry on ``Keys.exchange_drift_stream``
(:class:`...wire.drift.DriftAlert`) and counted in the drift metrics. Either way the
exchange is the truth: cash and positions are replaced by what it reports, fenced by the
epoch like every ledger write, so a deposed leader's poll changes nothing. A foreign
open order is never cancelled: a person may have placed it.

Spot: cash is the quote asset's total balance, a position the base asset's total.
Futures (USD-M): a position is the signed contracts; cash is the margin balance less
every position at its mark, so that cash plus positions at their marks is the equity.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ccxt
import redis
from prometheus_client import CollectorRegistry, Counter, Gauge

from ...keys import Keys
from ...runtime.redis_client import RetryPolicy
from ...wire.drift import DriftAlert
from ..metrics import DRIFT, DRIFT_EVENTS, OPEN_ORDERS, RECONCILES
from .chokepoint import FLAT
from .live import LiveExchange
from .open_orders import OpenOrder, OpenOrders

log = logging.getLogger(__name__)

DRIFT_MAXLEN = 10_000

# KEYS: 1 fence, 2 account, 3 positions, 4 drift stream. ARGV: 1 epoch, 2 cash,
# 3 JSON {symbol: units} of every traded symbol, 4 flat, 5 JSON list of alerts' fields,
# 6 drift maxlen. Returns 1 written, 0 stale epoch.
_WRITE = """
if tonumber(ARGV[1]) ~= tonumber(redis.call('GET', KEYS[1]) or '0') then return 0 end
redis.call('HSET', KEYS[2], 'cash', ARGV[2])
redis.call('HSETNX', KEYS[2], 'initial_cash', ARGV[2])
for symbol, units in pairs(cjson.decode(ARGV[3])) do
  if math.abs(tonumber(units)) <= tonumber(ARGV[4]) then
    redis.call('HDEL', KEYS[3], symbol)
  else
    redis.call('HSET', KEYS[3], symbol, units)
  end
end
for _, alert in ipairs(cjson.decode(ARGV[5])) do
  local fields = {}
  for k, v in pairs(alert) do
    fields[#fields + 1] = k
    fields[#fields + 1] = v
  end
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', unpack(fields))
end
return 1
"""


@dataclass(frozen=True)
class AccountView:
    """The exchange's account in ledger terms: cash (USD) and signed units per symbol."""

    cash_usd: float
    positions: Mapping[str, float]


@dataclass(frozen=True)
class PollerMetrics:
    drift: Gauge
    drift_events: Counter
    reconciles: Counter
    open_orders: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> PollerMetrics:
        return cls(
            drift=Gauge(
                DRIFT, "Largest ledger-exchange difference at the last poll", registry=registry
            ),
            drift_events=Counter(
                DRIFT_EVENTS,
                "Polls that found the ledger and the exchange apart beyond tolerance",
                registry=registry,
            ),
            reconciles=Counter(
                RECONCILES,
                "Account polls by outcome (written, deferred, failed, fenced)",
                ["outcome"],
                registry=registry,
            ),
            open_orders=Gauge(
                OPEN_ORDERS,
                "Open orders on the exchange at the last poll: the bot's, or foreign ones"
                " the ledger does not hold",
                ["origin"],
                registry=registry,
            ),
        )


def drift_of(
    ledger: AccountView, exchange: AccountView, marks: Mapping[str, float]
) -> tuple[float, str]:
    """The largest difference in USD and what it is in (``cash`` or a symbol)."""
    worst, where = abs(ledger.cash_usd - exchange.cash_usd), "cash"
    for symbol in sorted(set(ledger.positions) | set(exchange.positions)):
        units = abs(ledger.positions.get(symbol, 0.0) - exchange.positions.get(symbol, 0.0))
        usd = units * marks.get(symbol, 0.0)
        if units > FLAT and usd >= worst:
            worst, where = usd, symbol
    return worst, where


class AccountPoller:
    """Reconciles one live account into the ledger; call :meth:`poll` as the leader."""

    def __init__(
        self,
        client: redis.Redis,
        retry: RetryPolicy,
        keys: Keys,
        exchange: LiveExchange,
        metrics: PollerMetrics,
    ) -> None:
        self._client = client
        self._retry = retry
        self._keys = keys
        self._exchange = exchange
        self._metrics = metrics
        self._open_orders = OpenOrders(exchange.calls)
        #: Foreign open orders already reported: one alert each, not one per poll.
        self._reported: set[str] = set()

    def view(self) -> AccountView:
        """The exchange's account now (one balance read; futures also read positions)."""
        ex = self._exchange
        calls, client = ex.calls, ex.calls.client
        balance: Mapping[str, Any] = calls.call("fetch_balance", client.fetch_balance)
        totals: Mapping[str, Any] = balance.get("total") or {}
        quotes = {m.quote for m in ex.markets.values()}
        cash = sum(float(totals.get(q) or 0.0) for q in quotes)
        if ex.config.market_type == "spot":
            positions = {s: float(totals.get(m.base) or 0.0) for s, m in ex.markets.items()}
            return AccountView(cash, positions)
        by_ccxt = {m.ccxt_symbol: s for s, m in ex.markets.items()}
        rows: list[Mapping[str, Any]] = calls.call(
            "fetch_positions", lambda: client.fetch_positions(list(by_ccxt))
        )
        positions = dict.fromkeys(ex.markets, 0.0)
        for row in rows:
            symbol = by_ccxt.get(str(row.get("symbol")))
            if symbol is None:
                continue
            units = float(row.get("contracts") or 0.0) * float(row.get("contractSize") or 1.0)
            signed = -units if row.get("side") == "short" else units
            positions[symbol] += signed
            cash -= signed * float(row.get("markPrice") or 0.0)
        return AccountView(cash, positions)

    def poll(self, epoch: int, marks: Mapping[str, float], now: float) -> DriftAlert | None:
        """One reconciliation; the drift alert raised, if any. ``now`` in epoch seconds."""
        if self._exchange.resolve_inflight(epoch):
            self._metrics.reconciles.labels(outcome="deferred").inc()
            log.info("poll deferred: orders in flight")
            return None
        try:
            exchange = self.view()
            open_orders = self._open_orders.list(self._exchange.markets)
        except ccxt.BaseError as exc:
            # 429, timeout, 5xx; also a key the exchange refuses: counted by endpoint and
            # error (VenueCalls), alerted on, and asked again at the next poll, not sooner.
            self._metrics.reconciles.labels(outcome="failed").inc()
            log.warning("poll failed", extra={"error": type(exc).__name__})
            return None
        state = self._exchange.state_or_none()
        ledger = AccountView(
            state.cash_usd if state else exchange.cash_usd, state.positions if state else {}
        )
        worst, where = drift_of(ledger, exchange, marks)
        tolerance = self._exchange.config.drift_tolerance_usd
        alerts: list[DriftAlert] = []
        if state is not None and worst > tolerance:
            alerts.append(
                DriftAlert(
                    account=self._exchange.account,
                    field=where,
                    ledger=ledger.cash_usd if where == "cash" else ledger.positions.get(where, 0.0),
                    exchange=(
                        exchange.cash_usd if where == "cash" else exchange.positions.get(where, 0.0)
                    ),
                    drift_usd=worst,
                    tolerance_usd=tolerance,
                    ts=now,
                )
            )
        foreign = self._foreign(open_orders)
        for order in foreign:
            usd = order.remaining * (marks.get(order.symbol) or order.price)
            worst = max(worst, usd)
            if order.name not in self._reported and usd > tolerance:
                alerts.append(
                    DriftAlert(
                        account=self._exchange.account,
                        field=order.name,
                        ledger=0.0,
                        exchange=order.remaining,
                        drift_usd=usd,
                        tolerance_usd=tolerance,
                        ts=now,
                    )
                )
        account = self._exchange.account
        keys = [
            self._keys.fence(account),
            self._keys.account(account),
            self._keys.positions(account),
            self._keys.exchange_drift_stream(account),
        ]
        args: list[str | int] = [
            epoch,
            repr(exchange.cash_usd),
            json.dumps({s: repr(q) for s, q in exchange.positions.items()}),
            repr(FLAT),
            json.dumps([a.to_fields() for a in alerts]),
            DRIFT_MAXLEN,
        ]

        def write() -> int:
            return int(self._client.eval(_WRITE, len(keys), *keys, *args))

        if not self._retry.run(write, f"reconcile {account}"):
            self._metrics.reconciles.labels(outcome="fenced").inc()
            return None
        self._metrics.reconciles.labels(outcome="written").inc()
        self._metrics.drift.set(worst if state is not None else 0.0)
        self._metrics.open_orders.labels(origin="foreign").set(len(foreign))
        self._metrics.open_orders.labels(origin="bot").set(len(open_orders) - len(foreign))
        self._reported = {o.name for o in foreign}  # one that closed may alert if back
        for alert in alerts:
            self._metrics.drift_events.inc()
            log.warning("ledger drift corrected", extra=alert.to_fields())
        return max(alerts, key=lambda a: a.drift_usd, default=None)

    def _foreign(self, open_orders: list[OpenOrder]) -> list[OpenOrder]:
        """The open orders that are not the bot's own orders in flight."""
        if not open_orders:
            return []
        inflight = self._keys.inflight(self._exchange.account)
        ours = self._retry.run(lambda: self._client.smembers(inflight), "read in-flight")
        return [o for o in open_orders if o.client_order_id not in {str(i) for i in ours}]
