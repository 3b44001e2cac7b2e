"""The open orders an account has on the exchange, as the account poller compares them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ccxt

from .venue import Market, VenueCalls


@dataclass(frozen=True)
class OpenOrder:
    """An order open on the exchange: ``remaining`` base units; ``price`` 0 for market."""

    client_order_id: str
    order_id: str
    symbol: str
    side: str
    remaining: float
    price: float

    @property
    def name(self) -> str:
        """How a drift alert names it: ``order:<client order id or exchange id>``."""
        return f"order:{self.client_order_id or self.order_id}"


#: Up to this many symbols, one request per symbol: Binance weighs a listing of every
#: open order as 13 (spot) to 40 (futures) one-symbol listings, and ccxt's rate limiter
#: makes the poll wait accordingly (measured in bench/live_order).
PER_SYMBOL_UP_TO = 10


class OpenOrders:
    """Lists one account's open orders in its markets: one request per symbol for a few
    symbols; for more, one request where the exchange lists them all at once, else one
    per symbol (learnt from its first refusal)."""

    def __init__(self, calls: VenueCalls) -> None:
        self._calls = calls
        self._per_symbol = False

    def list(self, markets: Mapping[str, Market]) -> list[OpenOrder]:
        client, by_ccxt = self._calls.client, {m.ccxt_symbol: m for m in markets.values()}
        rows: list[Mapping[str, Any]] = []
        if len(by_ccxt) <= PER_SYMBOL_UP_TO:
            self._per_symbol = True
        if not self._per_symbol:
            try:
                rows = self._calls.call("fetch_open_orders", client.fetch_open_orders)
            except ccxt.ArgumentsRequired:
                self._per_symbol = True
        if self._per_symbol:
            for symbol in by_ccxt:

                def one(symbol: str = symbol) -> list[Mapping[str, Any]]:
                    listed: list[Mapping[str, Any]] = client.fetch_open_orders(symbol)
                    return listed

                rows += self._calls.call("fetch_open_orders", one)
        return [o for o in (_order(row, by_ccxt) for row in rows) if o is not None]


def _order(row: Mapping[str, Any], by_ccxt: Mapping[str, Market]) -> OpenOrder | None:
    market = by_ccxt.get(str(row.get("symbol")))
    if market is None:  # another market on the same key: not this account's to compare
        return None
    remaining = row.get("remaining")
    if remaining is None:
        remaining = float(row.get("amount") or 0.0) - float(row.get("filled") or 0.0)
    return OpenOrder(
        client_order_id=str(row.get("clientOrderId") or ""),
        order_id=str(row.get("id") or ""),
        symbol=market.symbol,
        side=str(row.get("side") or "").upper(),
        remaining=float(remaining),
        price=float(row.get("price") or 0.0),
    )
