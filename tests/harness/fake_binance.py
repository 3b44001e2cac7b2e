"""A fake Binance on loopback: the subset of its REST API our exchange adapter uses.

No exchange is reachable from here, so the real ccxt client talks to this server
(its API URLs overridden to ``http://127.0.0.1:PORT``). It speaks Binance's wire
format as ccxt's ``binance.py`` reads it, for spot (``/api/v3``) and USD-M
futures (``/fapi``):

* public: ``exchangeInfo``, ``ticker/24hr``, ``klines``, ``time``, ``ping``;
* signed (HMAC-SHA256 of the query and body with the secret, ``X-MBX-APIKEY``
  header, ``timestamp`` + ``recvWindow`` checked against this server's clock as
  Binance documents: a request older than its window is refused with -1021):
  ``account``, ``order`` (POST/GET/DELETE, by ``orderId`` or client order id),
  ``openOrders``, futures ``positionRisk``, the key's permissions
  (``sapi/v1/account/apiRestrictions``, :attr:`FakeBinance.key_restrictions`); plus the
  empty ``sapi`` lists ccxt's ``load_markets`` asks for when keys are set.

Binance's rules kept: a ``newClientOrderId`` already used by an *open* order is
refused ("Duplicate order sent.", -2010); a filled one may be reused, as on the
real exchange. Market orders fill at the symbol's price; the commission
(``fee_rate`` of the quote notional) is charged in the quote asset.

Behaviour is scripted per test: :meth:`FakeBinance.script` queues actions for
one route (``POST /api/v3/order``): a reply with any status and Binance error,
a partial fill, an order left open, or a stall *after* the order was accepted
(the client times out; the order exists).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tradingstack_workers.bots.marketdata import SyntheticFeed

JSON = dict[str, Any]
STEP = 0.00001
MIN_NOTIONAL = 5.0


@dataclass(frozen=True)
class Reply:
    """Answer with this HTTP status and Binance error (code, msg); the request has no effect."""

    status: int
    code: int = 0
    msg: str = ""
    retry_after: int | None = None


@dataclass(frozen=True)
class Stall:
    """Process the request (an order is accepted), then hold the reply until released."""


@dataclass(frozen=True)
class Partial:
    """Fill only ``fraction`` of a market order; the rest expires (Binance: EXPIRED)."""

    fraction: float


@dataclass(frozen=True)
class Rest:
    """Accept the order and leave it open (NEW) until :meth:`FakeBinance.fill_open`."""


Action = Reply | Stall | Partial | Rest


@dataclass
class OrderSeen:
    """One order request that passed authentication, and what became of it."""

    client_order_id: str
    symbol: str
    side: str
    quantity: float
    received: float
    timestamp_ms: int
    outcome: str  # accepted | duplicate | expired_window | rejected:<msg> | scripted:<status>


@dataclass
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    quantity: float
    executed: float = 0.0
    quote: float = 0.0
    status: str = "NEW"
    time_ms: int = 0
    fills: list[JSON] = field(default_factory=list)


class FakeBinance:
    """One account on a fake Binance, served on ``127.0.0.1`` (spot and USD-M futures)."""

    def __init__(
        self,
        api_key: str,
        secret: str,
        *,
        prices: dict[str, float],
        balances: dict[str, float],
        fee_rate: float = 0.001,
        quote: str = "USDT",
        market: SyntheticFeed | None = None,
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.prices = dict(prices)
        self.balances: dict[str, float] = defaultdict(float, balances)
        self.positions: dict[str, float] = defaultdict(float)  # futures, signed
        self.futures_cost: dict[str, float] = defaultdict(float)
        self.futures_cash = balances.get(quote, 0.0)
        self.fee_rate = fee_rate
        self.quote = quote
        self.orders: dict[int, Order] = {}
        self.seen: list[OrderSeen] = []
        self.requests: list[tuple[str, str, int]] = []
        self.klines: dict[str, list[list[Any]]] = defaultdict(list)
        #: The key's permissions as Binance reports them: a key made for trading only,
        #: restricted to an IP list. Tests change a flag to script another key.
        self.key_restrictions: JSON = {
            "ipRestrict": True,
            "createTime": 1_767_225_600_000,
            "enableReading": True,
            "enableSpotAndMarginTrading": True,
            "enableFutures": True,
            "enableMargin": False,
            "enableVanillaOptions": False,
            "enablePortfolioMarginTrading": False,
            "enableWithdrawals": False,
            "enableInternalTransfer": False,
            "permitsUniversalTransfer": False,
            "enableFixApiTrade": False,
            "enableFixReadOnly": False,
            "tradingAuthorityExpirationTime": 1_798_761_600_000,
        }
        #: A moving market: candles and fill prices from our own synthetic path.
        self.market = market
        self._scripts: dict[str, deque[Action]] = defaultdict(deque)
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._next_id = 1000
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeBinance:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # -- what tests script and read -------------------------------------------------------

    def script(self, route: str, *actions: Action) -> None:
        """Queue ``actions`` for ``route`` ("POST /api/v3/order"), one per request."""
        with self._lock:
            self._scripts[route].extend(actions)

    def release_stalled(self) -> None:
        """Let every stalled reply go (their clients have long given up)."""
        self._release.set()

    def accepted(self) -> list[Order]:
        with self._lock:
            return list(self.orders.values())

    def orders_by_client_id(self, client_order_id: str) -> list[Order]:
        with self._lock:
            return [o for o in self.orders.values() if o.client_order_id == client_order_id]

    def count(self, method: str, path: str, status: int | None = None) -> int:
        with self._lock:
            return sum(
                1
                for m, p, s in self.requests
                if m == method and p == path and (status is None or s == status)
            )

    def fill_open(self, client_order_id: str) -> None:
        with self._lock:
            for order in self.orders.values():
                if order.client_order_id == client_order_id and order.status == "NEW":
                    self._fill(order, order.quantity, futures=order.symbol.endswith(":F"))

    def add_klines(
        self, symbol: str, bars: list[tuple[int, float, float, float, float, float]]
    ) -> None:
        """Bars as (open time ms, open, high, low, close, volume), one minute each."""
        with self._lock:
            for open_ms, o, h, lo, c, v in bars:
                self.klines[symbol].append(
                    [
                        open_ms,
                        f"{o}",
                        f"{h}",
                        f"{lo}",
                        f"{c}",
                        f"{v}",
                        open_ms + 59_999,
                        f"{c * v}",
                        1,
                        "0",
                        "0",
                        "0",
                    ]
                )

    # -- the exchange ------------------------------------------------------------------

    def _symbol_info(self, symbol: str, *, futures: bool) -> JSON:
        base = symbol.removesuffix(self.quote)
        filters: list[JSON] = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01",
                "maxPrice": "1000000.00",
                "tickSize": "0.01",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": f"{STEP:.5f}",
                "maxQty": "9000.00000",
                "stepSize": f"{STEP:.5f}",
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": f"{STEP:.5f}",
                "maxQty": "9000.00000",
                "stepSize": f"{STEP:.5f}",
            },
        ]
        info: JSON = {
            "symbol": symbol,
            "status": "TRADING",
            "baseAsset": base,
            "quoteAsset": self.quote,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"],
            "filters": filters,
        }
        if futures:
            filters.append({"filterType": "MIN_NOTIONAL", "notional": f"{MIN_NOTIONAL}"})
            info.update(
                pair=symbol,
                contractType="PERPETUAL",
                deliveryDate=4133404800000,
                onboardDate=1569398400000,
                marginAsset=self.quote,
                pricePrecision=2,
                quantityPrecision=5,
                underlyingType="COIN",
                settlePlan=0,
                triggerProtect="0.0500",
                timeInForce=["GTC", "IOC", "FOK", "GTX"],
                orderTypes=["LIMIT", "MARKET", "STOP", "STOP_MARKET"],
            )
        else:
            filters.append(
                {
                    "filterType": "NOTIONAL",
                    "minNotional": f"{MIN_NOTIONAL}",
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                }
            )
            info.update(
                isSpotTradingAllowed=True,
                isMarginTradingAllowed=False,
                permissions=[],
                permissionSets=[["SPOT"]],
            )
        return info

    def _market_klines(self, q: dict[str, str]) -> list[list[Any]]:
        """Closed candles of the synthetic market, from ``startTime`` on, ``limit`` at most."""
        assert self.market is not None
        symbol = q.get("symbol", "")
        if symbol not in self.market.symbols:
            return []
        interval = float(self.market.config.interval_s)
        start = int(q.get("startTime", "0")) / 1000
        limit = int(q.get("limit", "500"))
        until = min(time.time(), int(q.get("endTime", str(2**62))) / 1000 + interval)
        until = min(until, start + limit * interval)
        count = min(limit, int((until - start) / interval) + 1)
        if count <= 0:
            return []
        rows = []
        for bar in self.market.history(until, count).get(symbol, ()):
            opened = round((bar.ts - interval) * 1000)
            if opened >= start * 1000:
                rows.append([opened, f"{bar.open}", f"{bar.high}", f"{bar.low}", f"{bar.close}",
                             f"{bar.volume}", opened + int(interval * 1000) - 1, "0", 1, "0",
                             "0", "0"])  # fmt: skip
        return rows

    def _mark(self, symbol: str) -> float:
        """The price a market order fills at now: the synthetic market's last close."""
        if self.market is not None and symbol in self.market.symbols:
            bars = self.market.history(time.time(), 1).get(symbol)
            if bars:
                self.prices[symbol] = bars[-1].close
        return self.prices[symbol]

    def _order_json(self, order: Order, *, futures: bool, full: bool) -> JSON:
        symbol = order.symbol.removesuffix(":F")
        avg = order.quote / order.executed if order.executed else 0.0
        out: JSON = {
            "symbol": symbol,
            "orderId": order.order_id,
            "clientOrderId": order.client_order_id,
            "price": "0",
            "origQty": f"{order.quantity:.5f}",
            "executedQty": f"{order.executed:.5f}",
            "status": order.status,
            "timeInForce": "GTC",
            "type": "MARKET",
            "side": order.side,
            "updateTime": order.time_ms,
        }
        if futures:
            out.update(
                avgPrice=f"{avg}",
                cumQuote=f"{order.quote}",
                reduceOnly=False,
                positionSide="BOTH",
                closePosition=False,
                origType="MARKET",
                time=order.time_ms,
            )
        else:
            out.update(
                orderListId=-1,
                cummulativeQuoteQty=f"{order.quote}",
                time=order.time_ms,
                transactTime=order.time_ms,
                workingTime=order.time_ms,
                isWorking=True,
            )
            if full:
                out["fills"] = order.fills
        return out

    def _fill(self, order: Order, qty: float, *, futures: bool) -> None:
        symbol = order.symbol.removesuffix(":F")
        price = self._mark(symbol)
        quote = qty * price
        fee = quote * self.fee_rate
        sign = 1.0 if order.side == "BUY" else -1.0
        if futures:
            # Kept as cash would be (price paid out, fees): margin balance is this plus
            # every position at its price, wallet balance that less the unrealised PnL.
            self.positions[symbol] += sign * qty
            self.futures_cost[symbol] += sign * quote
            self.futures_cash -= sign * quote + fee
        else:
            base = symbol.removesuffix(self.quote)
            self.balances[base] += sign * qty
            self.balances[self.quote] -= sign * quote + fee
        order.executed += qty
        order.quote += quote
        order.fills.append(
            {
                "price": f"{price}",
                "qty": f"{qty:.5f}",
                "commission": f"{fee}",
                "commissionAsset": self.quote,
                "tradeId": order.order_id,
            }
        )
        order.status = "FILLED" if order.executed >= order.quantity - 1e-12 else "EXPIRED"

    def _new_order(
        self, q: dict[str, str], action: Action | None, *, futures: bool
    ) -> tuple[int, JSON]:
        symbol = q.get("symbol", "")
        client_id = q.get("newClientOrderId") or f"x-fake-{self._next_id}"
        side = q.get("side", "")
        qty = float(q.get("quantity", "0") or 0)
        seen = OrderSeen(client_id, symbol, side, qty, time.time(), int(q["timestamp"]), "accepted")
        self.seen.append(seen)
        if isinstance(action, Reply):
            seen.outcome = f"scripted:{action.status}"
            return action.status, {"code": action.code, "msg": action.msg}
        if symbol not in self.prices:
            seen.outcome = "rejected:symbol"
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        key = f"{symbol}:F" if futures else symbol
        if any(
            o.client_order_id == client_id and o.status == "NEW" and o.symbol == key
            for o in self.orders.values()
        ):
            seen.outcome = "duplicate"
            return 400, {"code": -2010, "msg": "Duplicate order sent."}
        if qty <= 0 or abs(round(qty / STEP) * STEP - qty) > 1e-9:
            seen.outcome = "rejected:lot_size"
            return 400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}
        price = self.prices[symbol]
        if qty * price < MIN_NOTIONAL:
            seen.outcome = "rejected:notional"
            return 400, {"code": -1013, "msg": "Filter failure: NOTIONAL"}
        if not futures and not self._affordable(symbol, side, qty * price):
            seen.outcome = "rejected:insufficient"
            return 400, {
                "code": -2010,
                "msg": "Account has insufficient balance for requested action.",
            }
        self._next_id += 1
        order = Order(self._next_id, client_id, key, side, qty, time_ms=int(time.time() * 1000))
        self.orders[order.order_id] = order
        if not isinstance(action, Rest):
            fraction = action.fraction if isinstance(action, Partial) else 1.0
            filled = round(qty * fraction / STEP) * STEP
            if filled > 0:
                self._fill(order, filled, futures=futures)
            if order.status == "NEW":
                order.status = "EXPIRED"
        return 200, self._order_json(order, futures=futures, full=True)

    def _affordable(self, symbol: str, side: str, quote: float) -> bool:
        if side == "BUY":
            return self.balances[self.quote] >= quote * (1 + self.fee_rate)
        base = symbol.removesuffix(self.quote)
        return self.balances[base] >= quote / self.prices[symbol] - 1e-12

    def _find(self, q: dict[str, str], *, futures: bool) -> Order | None:
        symbol = q.get("symbol", "")
        key = f"{symbol}:F" if futures else symbol
        wanted = q.get("origClientOrderId")
        by_id = int(q["orderId"]) if q.get("orderId") else None
        matches = [
            o
            for o in self.orders.values()
            if o.symbol == key and (o.order_id == by_id or (wanted and o.client_order_id == wanted))
        ]
        return matches[-1] if matches else None

    def _account(self, *, futures: bool) -> JSON:
        if not futures:
            return {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "canWithdraw": False,
                "canDeposit": False,
                "accountType": "SPOT",
                "updateTime": int(time.time() * 1000),
                "permissions": ["SPOT"],
                "balances": [
                    {"asset": a, "free": f"{v:.8f}", "locked": "0.00000000"}
                    for a, v in sorted(self.balances.items())
                ],
            }
        value = sum(q * self.prices[s] for s, q in self.positions.items())
        upnl = value - sum(self.futures_cost.values())
        margin = self.futures_cash + value
        wallet = margin - upnl
        return {
            "totalWalletBalance": f"{wallet}",
            "totalUnrealizedProfit": f"{upnl}",
            "totalMarginBalance": f"{margin}",
            "availableBalance": f"{margin}",
            "maxWithdrawAmount": f"{margin}",
            "totalPositionInitialMargin": "0",
            "assets": [
                {
                    "asset": self.quote,
                    "walletBalance": f"{wallet}",
                    "unrealizedProfit": f"{upnl}",
                    "marginBalance": f"{margin}",
                    "availableBalance": f"{margin}",
                    "maxWithdrawAmount": f"{margin}",
                    "crossWalletBalance": f"{wallet}",
                    "updateTime": int(time.time() * 1000),
                }
            ],
            "positions": [],
        }

    def _position_risk(self) -> list[JSON]:
        return [
            {
                "symbol": s,
                "positionSide": "BOTH",
                "positionAmt": f"{q:.5f}",
                "entryPrice": f"{self.prices[s]}",
                "markPrice": f"{self.prices[s]}",
                "unRealizedProfit": "0",
                "notional": f"{q * self.prices[s]}",
                "marginAsset": self.quote,
                "isolatedMargin": "0",
                "isolatedWallet": "0",
                "initialMargin": "0",
                "maintMargin": "0",
                "updateTime": 0,
                "liquidationPrice": "0",
                "breakEvenPrice": "0",
                "adl": 0,
            }
            for s, q in sorted(self.positions.items())
            if abs(q) > 1e-12
        ]

    # -- HTTP ------------------------------------------------------------------------------

    def _authenticate(self, headers: Any, query: str, body: str) -> tuple[int, JSON] | None:
        if headers.get("X-MBX-APIKEY") != self.api_key:
            return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        parts = [p for p in (query, body) if p]
        total = "&".join(parts)
        payload, _, signature = total.rpartition("&signature=")
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not payload or not hmac.compare_digest(expected, signature):
            return 400, {"code": -1022, "msg": "Signature for this request is not valid."}
        params = dict(parse_qsl(payload))
        now_ms = int(time.time() * 1000)
        stamp = int(params.get("timestamp", "0"))
        window = min(int(params.get("recvWindow", "5000")), 60_000)
        if not (stamp < now_ms + 1000 and now_ms - stamp <= window):
            return 400, {
                "code": -1021,
                "msg": "Timestamp for this request is outside of the recvWindow.",
            }
        return None

    def _route(
        self, method: str, path: str, q: dict[str, str], action: Action | None
    ) -> tuple[int, Any]:
        tail = path.split("/", 3)[-1] if path.count("/") >= 3 else path
        if isinstance(action, Reply) and not (method == "POST" and tail == "order"):
            return action.status, {"code": action.code, "msg": action.msg}
        public = self._public(path, tail, q)
        if public is not None:
            return public
        return self._private(method, path, tail, q, action)

    def _public(self, path: str, tail: str, q: dict[str, str]) -> tuple[int, Any] | None:
        futures = path.startswith("/fapi/")
        if tail == "exchangeInfo":
            symbols = [self._symbol_info(s, futures=futures) for s in sorted(self.prices)]
            if path.startswith("/dapi/"):
                symbols = []
            return 200, {
                "timezone": "UTC",
                "serverTime": int(time.time() * 1000),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": symbols,
            }
        if tail in ("time",):
            return 200, {"serverTime": int(time.time() * 1000)}
        if tail == "ping":
            return 200, {}
        if tail == "ticker/24hr":
            symbol = q.get("symbol", "")
            if symbol not in self.prices:
                return 400, {"code": -1121, "msg": "Invalid symbol."}
            p = f"{self.prices[symbol]}"
            now = int(time.time() * 1000)
            return 200, {
                "symbol": symbol,
                "priceChange": "0",
                "priceChangePercent": "0",
                "weightedAvgPrice": p,
                "lastPrice": p,
                "lastQty": "1",
                "bidPrice": p,
                "bidQty": "1",
                "askPrice": p,
                "askQty": "1",
                "openPrice": p,
                "highPrice": p,
                "lowPrice": p,
                "volume": "1",
                "quoteVolume": p,
                "openTime": now - 86_400_000,
                "closeTime": now,
                "count": 1,
            }
        if tail == "klines" and self.market is not None:
            return 200, self._market_klines(q)
        if tail == "klines":
            bars = self.klines.get(q.get("symbol", ""), [])
            start = int(q.get("startTime", "0"))
            end = int(q.get("endTime", str(2**62)))
            limit = int(q.get("limit", "500"))
            return 200, [b for b in bars if start <= b[0] <= end][:limit]
        if tail in ("capital/config/getall", "margin/allPairs", "margin/isolated/allPairs"):
            return 200, []
        return None

    def _private(
        self, method: str, path: str, tail: str, q: dict[str, str], action: Action | None
    ) -> tuple[int, Any]:
        futures = path.startswith("/fapi/")
        if tail in ("account",) and method == "GET":
            return 200, self._account(futures=futures)
        if tail == "leverageBracket":
            return 200, [
                {
                    "symbol": s,
                    "brackets": [
                        {
                            "bracket": 1,
                            "initialLeverage": 20,
                            "notionalCap": 10_000_000,
                            "notionalFloor": 0,
                            "maintMarginRatio": 0.004,
                            "cum": 0,
                        }
                    ],
                }
                for s in sorted(self.prices)
            ]
        if tail == "account/apiRestrictions" and method == "GET":
            return 200, dict(self.key_restrictions)
        if tail == "positionRisk":
            return 200, self._position_risk()
        if tail == "openOrders":
            key = q.get("symbol")
            return 200, [
                self._order_json(o, futures=futures, full=False)
                for o in self.orders.values()
                if o.status == "NEW"
                and o.symbol.endswith(":F") == futures
                and (key is None or o.symbol.removesuffix(":F") == key)
            ]
        if tail == "order" and method == "POST":
            return self._new_order(q, action, futures=futures)
        if tail == "order" and method in ("GET", "DELETE"):
            order = self._find(q, futures=futures)
            if order is None:
                if method == "GET":
                    return 400, {"code": -2013, "msg": "Order does not exist."}
                return 400, {"code": -2011, "msg": "Unknown order sent."}
            if method == "DELETE":
                if order.status != "NEW":
                    return 400, {"code": -2011, "msg": "Unknown order sent."}
                order.status = "CANCELED"
            return 200, self._order_json(order, futures=futures, full=False)
        return 404, {"code": -1, "msg": f"fake binance: no route {method} {path}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                route = f"{self.command} {split.path}"
                status, answer, stall, retry_after = fake._handle(
                    self.headers, route, split.query, body
                )
                if stall:
                    fake._release.wait(timeout=60)
                    self.close_connection = True
                    return
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status in (418, 429):
                    self.send_header("Retry-After", str(retry_after))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _serve  # noqa: N815 - http.server names

        return Handler

    def _handle(
        self, headers: Any, route: str, query: str, body: str
    ) -> tuple[int, Any, bool, int]:
        method, path = route.split(" ", 1)
        with self._lock:
            queued = self._scripts.get(route)
            action = queued.popleft() if queued else None
            signed = "signature=" in query or "signature=" in body
            if signed:
                refused = self._authenticate(headers, query, body)
                if refused is not None:
                    if method == "POST" and path.endswith("/order"):
                        q = dict(parse_qsl(body or query))
                        self.seen.append(
                            OrderSeen(
                                q.get("newClientOrderId", ""),
                                q.get("symbol", ""),
                                q.get("side", ""),
                                float(q.get("quantity", "0") or 0),
                                time.time(),
                                int(q.get("timestamp", "0") or 0),
                                "expired_window" if refused[1]["code"] == -1021 else "unauthorised",
                            )
                        )
                    self.requests.append((method, path, refused[0]))
                    return refused[0], refused[1], False, 0
            params = dict(parse_qsl(query))
            params.update(parse_qsl(body))
            status, answer = self._route(method, path, params, action)
            self.requests.append((method, path, status))
        retry_after = action.retry_after if isinstance(action, Reply) else None
        return status, answer, isinstance(action, Stall), retry_after or 1
