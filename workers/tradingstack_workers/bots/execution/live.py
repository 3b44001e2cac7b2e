"""The live exchange: the chokepoint admits, ccxt sends, the exchange's answer is recorded.

An order reaches the exchange only after :data:`.chokepoint.ADMIT` let it through
(fencing epoch, kill switch, duplicate, protections), and it carries the client order
id of its intent (``clientOrderId``; Binance's ``newClientOrderId``), so the exchange
knows a retry as the same order.

Four guards stand between a stale leader and the exchange:

1. admission is fenced by the epoch, atomically in Redis;
2. the trader checks its lease on its own clock just before it submits;
3. the request is signed with the admission's timestamp and a *send window* no longer
   than what is left of the lease (Binance's ``recvWindow``): a request that arrives
   later (a process stopped between admission and send, a request stuck in a queue)
   is refused by the exchange itself, so a zombie's order never executes;
4. the client order id: the exchange refuses a second open order with the same id.

When the outcome is unknown (a timeout, a 5xx, a dropped connection) nothing is
re-sent blindly: the order is looked up by its client order id once its send window
has closed (no copy of it can arrive after that). Found: its state is recorded. Not
found: it was never placed, and it is sent again with a fresh window while the lease
holds. A 429 or 418 means the exchange did not process the request: the client
pauses (:class:`.venue.VenueCalls`) and sends again within the window.

:data:`RECORD` applies what the exchange reports (cumulative filled quantity, cost and
fees) to the ledger as deltas, once: recording the same state twice changes nothing.
Only the current epoch's record moves cash and positions; a stale one updates the order
record and leaves balances to the account poller.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ccxt
import redis

from ...keys import Keys
from ...runtime import book, releases
from ...runtime.redis_client import RetryPolicy
from .chokepoint import ADMIT, FILLS_MAXLEN, FLAT, RATE_WINDOW_SECONDS, Protections
from .exchange import AccountState, read_account, release_on_refusal
from .key_permissions import KeyPermissions, check_key
from .orders import ExecResult, Fill, OrderIntent
from .venue import Market, VenueCalls, markets
from .venue_config import VenueConfig

log = logging.getLogger(__name__)

#: A send window shorter than this cannot carry a request there and back: refuse.
MIN_WINDOW_MS = 250
#: After a window closes, wait this much longer before a lookup (clock skew, queues).
WINDOW_MARGIN_MS = 500
#: Sends of one order at most (each after a lookup found it absent, or a 429).
MAX_SENDS = 10
#: Statuses of an order record that nothing will change any more.
FINAL = frozenset({"filled", "partial", "rejected", "not_placed", "canceled"})

# KEYS: 1 fence, 2 orders, 3 positions, 4 account, 5 fills, 6 in-flight set,
#       7 reservations, 8 the symbol's position snapshot, 9 the snapshot index,
#       10 the portfolio state, 11 the grant totals, 12 the releases (runtime.releases)
# ARGV: 1 client order id, 2 status, 3 filled (base, cumulative), 4 cost (quote,
#       cumulative), 5 fee in quote, 6 fee in base, 7 exchange order id, 8 now,
#       9 recorder's epoch, 10 flat, 11 fills maxlen, 12 reason, 13 sent_ms, 14 window_ms,
#       15 the account, 16 the snapshots' key prefix (its parts of the book: runtime.book)
# Returns {'recorded' | 'final' | 'missing', record JSON}. As on the paper exchange, the
# gate sees a fill in the position snapshot at the instant the permit's reservation
# goes; a final answer without a fill ends the reservation too.
RECORD = (
    book.LUA
    + releases.LUA
    + """
local function num(x) return string.format('%.17g', x) end
local prior = redis.call('HGET', KEYS[2], ARGV[1])
if not prior then return {'missing', ''} end
local r = cjson.decode(prior)
local final = {filled = true, partial = true, rejected = true, not_placed = true, canceled = true}
if final[r.status] then return {'final', prior} end
local function delta(new, old)
  local d = tonumber(new) - tonumber(old or '0')
  if d < 0 then return 0 end
  return d
end
local d_qty = delta(ARGV[3], r.filled)
local d_cost = delta(ARGV[4], r.cost)
local d_fee = delta(ARGV[5], r.fee)
local d_fee_base = delta(ARGV[6], r.fee_base)
local sign = 1
if r.side == 'SELL' then sign = -1 end
local pos = tonumber(redis.call('HGET', KEYS[3], r.symbol) or '0')
local cash = tonumber(redis.call('HGET', KEYS[4], 'cash') or '0')
local current = redis.call('GET', KEYS[1]) or '0'
if tonumber(ARGV[9]) == tonumber(current) and (d_qty > 0 or d_fee > 0 or d_fee_base > 0) then
  pos = pos + sign * d_qty - d_fee_base
  cash = cash - sign * d_cost - d_fee
  if math.abs(pos) <= tonumber(ARGV[10]) then
    pos = 0
    redis.call('HDEL', KEYS[3], r.symbol)
  else
    redis.call('HSET', KEYS[3], r.symbol, num(pos))
  end
  redis.call('HSET', KEYS[4], 'cash', num(cash))
  redis.call('SADD', KEYS[9], r.symbol)
  book_fill(KEYS[10], KEYS[9], ARGV[16], KEYS[8], ARGV[15], pos, num(cash), r.mark_price,
    ARGV[8])
end
if final[ARGV[2]] and r.reservation and r.reservation ~= '' then
  release_reservation(KEYS[7], KEYS[11], KEYS[12], r.reservation)
end
r.status = ARGV[2]
r.filled = num(tonumber(r.filled) + d_qty)
r.cost = num(tonumber(r.cost) + d_cost)
r.fee = num(tonumber(r.fee) + d_fee)
r.fee_base = num(tonumber(r.fee_base or '0') + d_fee_base)
if ARGV[7] ~= '' then r.exchange_order_id = ARGV[7] end
if ARGV[12] ~= '' then r.reason = ARGV[12] end
if ARGV[13] ~= '' then r.sent_ms = ARGV[13] end
if ARGV[14] ~= '' then r.window_ms = ARGV[14] end
local filled = tonumber(r.filled)
r.ordered_qty = r.ordered_qty or r.qty
if filled > 0 then r.qty = r.filled end
r.price = r.mark_price
if filled > 0 then r.price = num(tonumber(r.cost) / filled) end
r.notional_usd = r.cost
r.fee_usd = r.fee
r.position_after = num(pos)
r.cash_after = num(cash)
r.recorded_ts = ARGV[8]
local encoded = cjson.encode(r)
redis.call('HSET', KEYS[2], ARGV[1], encoded)
if r.status ~= 'open' and r.status ~= 'admitted' then redis.call('SREM', KEYS[6], ARGV[1]) end
if d_qty > 0 then
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[11], '*', 'client_order_id', ARGV[1],
    'symbol', r.symbol, 'side', r.side, 'qty', num(d_qty), 'price', num(d_cost / d_qty),
    'fee_usd', num(d_fee), 'epoch', r.epoch, 'ts', ARGV[8], 'position_after', num(pos),
    'cash_after', num(cash), 'exchange_order_id', r.exchange_order_id)
end
return {'recorded', encoded}
"""
)


@dataclass(frozen=True)
class Report:
    """What the exchange says of one order, cumulative."""

    status: str  # filled | partial | open | rejected | not_placed | canceled
    filled: float = 0.0
    cost: float = 0.0
    fee_quote: float = 0.0
    fee_base: float = 0.0
    exchange_order_id: str = ""
    reason: str = ""


def report(order: Mapping[str, Any], market: Market, fee_bps: float) -> Report:
    """A ccxt order structure as a :class:`Report`; fees the exchange did not state (a
    looked-up order) are estimated at ``fee_bps`` and later corrected by the poller."""
    filled = float(order.get("filled") or 0.0)
    cost = float(order.get("cost") or 0.0)
    if not cost and filled and order.get("average"):
        cost = filled * float(order["average"])
    fee_quote = fee_base = 0.0
    fees = order.get("fees") or ([order["fee"]] if order.get("fee") else [])
    for fee in fees:
        if not fee or fee.get("cost") is None:
            continue
        if fee.get("currency") == market.quote:
            fee_quote += float(fee["cost"])
        elif fee.get("currency") == market.base:
            fee_base += float(fee["cost"])
    if not fees and filled:
        fee_quote = cost * fee_bps / 10_000
    state = order.get("status")
    if state == "open":
        status = "open"
    elif state == "closed":
        status = "filled"
    elif filled > 0:
        status = "partial"
    elif state == "rejected":
        status = "rejected"
    else:
        status = "canceled"
    return Report(status, filled, cost, fee_quote, fee_base, str(order.get("id") or ""))


class LiveExchange:
    """One account on a real exchange, behind the same chokepoint as the paper exchange.

    ``wait(seconds)`` pauses while beating the heartbeat (False: stopping);
    ``monotonic`` is the clock leases are measured on.
    """

    def __init__(
        self,
        client: redis.Redis,
        retry: RetryPolicy,
        keys: Keys,
        account: str,
        *,
        calls: VenueCalls,
        config: VenueConfig,
        symbols: tuple[str, ...],
        protections: Protections,
        wait: Callable[[float], bool],
        monotonic: Callable[[], float],
    ) -> None:
        self._client = client
        self._retry = retry
        self._keys = keys
        self.account = account
        self.calls = calls
        self.config = config
        self.symbols = symbols
        self.protections = protections
        self._wait = wait
        self._monotonic = monotonic
        self.markets: dict[str, Market] = {}
        #: What the key may do, once read (None: not readable on this exchange).
        self.key: KeyPermissions | None = None

    # -- the execution interface ------------------------------------------------------

    def open(self) -> None:
        """Check the key's permissions (:func:`.key_permissions.check_key`: a key that can
        withdraw is refused), then load the exchange's markets and check every symbol is
        traded there. Raises :class:`.venue_config.VenueError` naming the field."""
        if not self.markets:
            self.key = check_key(self.calls, self.config)
            self.markets = markets(self.calls, self.symbols, self.config.market_type)

    def state(self) -> AccountState:
        return read_account(self._client, self._retry, self._keys, self.account)

    def state_or_none(self) -> AccountState | None:
        """The ledger's account, or None before the first poll wrote it."""
        try:
            return self.state()
        except LookupError:
            return None

    def submit(
        self,
        intent: OrderIntent,
        epoch: int,
        mark_price: float,
        now: float,
        *,
        reservation: str | None = None,
        deadline: float | None = None,
    ) -> ExecResult:
        """Admit ``intent`` at the chokepoint, then send it while the lease (``deadline``
        on the monotonic clock) holds; ``now`` in epoch seconds.

        ``reservation`` names the permit's reservation (the proposal id) of an entry: it
        is admitted only while the reservation holds, and the exchange's final answer
        (``RECORD``) or a refusal here ends it, as on the paper exchange.
        """
        if intent.account != self.account:
            raise ValueError(f"intent for account {intent.account!r} sent to {self.account!r}")
        admitted = self._admission(
            intent, epoch, mark_price, now, reservation=reservation, deadline=deadline
        )
        if isinstance(admitted, ExecResult):
            # Answered before the exchange: no RECORD ends the reservation of a refusal.
            return release_on_refusal(self._client, self._retry, self._keys, admitted, reservation)
        record, market = admitted
        return self._deliver(record, market, epoch, deadline)

    def _admission(
        self,
        intent: OrderIntent,
        epoch: int,
        mark_price: float,
        now: float,
        *,
        reservation: str | None,
        deadline: float | None,
    ) -> ExecResult | tuple[dict[str, Any], Market]:
        """The admitted order's record and market, or the answer that ends it before the
        exchange (a refusal, a stale epoch, another call's duplicate)."""
        market = self.markets[intent.symbol]
        try:
            qty = float(self.calls.client.amount_to_precision(market.ccxt_symbol, intent.qty))
        except ccxt.InvalidOrder:  # less than one lot: a refusal, not a failed step
            return ExecResult("rejected", reason="below_lot_size")
        if self.config.market_type == "spot" and intent.side == "SELL":
            held = self.state().positions.get(intent.symbol, 0.0)
            if qty > held + FLAT:  # a spot account sells what it holds; it cannot go short
                return ExecResult("rejected", reason="spot_short")
        window = self._window_ms(deadline)
        if window < MIN_WINDOW_MS:
            return ExecResult("stale_epoch", reason="the lease ends before an order could arrive")
        stamp = self.calls.milliseconds()
        status, payload, retried = self._admit(
            intent, qty, epoch, mark=mark_price, now=now, stamp=stamp, window=window,
            reservation=reservation,
        )  # fmt: skip
        if status == "duplicate":
            record = json.loads(payload)
            ours = record.get("status") == "admitted" and int(record["epoch"]) == epoch
            if not (retried and ours):  # a retried admission finds its own record
                return _duplicate(record)
        elif status == "stale_epoch":
            return ExecResult("stale_epoch", reason=f"current epoch is {payload}")
        elif status != "admitted":
            return ExecResult("rejected", reason=payload)
        return json.loads(payload), market

    # -- admission ---------------------------------------------------------------------

    def _window_ms(self, deadline: float | None) -> int:
        window = self.config.send_window_seconds
        if deadline is not None:
            window = min(window, deadline - self._monotonic())
        return int(window * 1000)

    def _admit(
        self,
        intent: OrderIntent,
        qty: float,
        epoch: int,
        *,
        mark: float,
        now: float,
        stamp: int,
        window: int,
        reservation: str | None = None,
    ) -> tuple[str, str, bool]:
        a, p = self._keys, self.protections
        keys = [
            a.fence(self.account),
            a.orders(self.account),
            a.positions(self.account),
            a.account(self.account),
            a.fills(self.account),
            a.order_rate(self.account),
            a.halted,
            a.inflight(self.account),
            a.reservations,
        ]
        args: list[str | int] = [
            epoch,
            intent.client_order_id,
            intent.symbol,
            intent.side,
            repr(qty),
            repr(float(mark)),
            repr(self.config.fee_bps),
            "0",
            p.max_open_positions,
            repr(float(p.max_order_notional_usd)),
            p.max_orders_per_minute,
            repr(float(now)),
            "1" if p.halted else "0",
            intent.bot,
            intent.intent_id,
            FILLS_MAXLEN,
            repr(FLAT),
            RATE_WINDOW_SECONDS,
            stamp,
            window,
            reservation or "",
        ]
        attempts = 0

        def admit() -> list[Any]:
            nonlocal attempts
            attempts += 1
            reply: list[Any] = self._client.eval(ADMIT, len(keys), *keys, *args)
            return reply

        status, payload = self._retry.run(admit, f"admit {intent.client_order_id}")
        return str(status), str(payload), attempts > 1

    # -- sending -----------------------------------------------------------------------

    def _deliver(
        self, record: dict[str, Any], market: Market, epoch: int, deadline: float | None
    ) -> ExecResult:
        """Send until the exchange answers; after an unknown outcome, look up before
        anything is sent again. ``unknown`` when no answer could be had."""
        cid = str(record["client_order_id"])
        stamp, window = int(record["sent_ms"]), int(record["window_ms"])
        unknown = False
        try:
            for _ in range(MAX_SENDS):
                if unknown or self.calls.milliseconds() > stamp + window:
                    found = self._look_up(cid, market, stamp + window)
                    if found is not None:
                        return self._record(cid, market.symbol, found, epoch)
                    fresh = self._window_ms(deadline)
                    if fresh < MIN_WINDOW_MS:
                        return self._record(
                            cid, market.symbol, Report("not_placed", reason="lease_ended"), epoch
                        )
                    stamp, window = self.calls.milliseconds(), fresh
                    self._record(
                        cid, market.symbol, Report("admitted"), epoch, sent=(stamp, window)
                    )
                    unknown = False
                try:
                    order = self._send(cid, record, market, stamp, window)
                except ccxt.DDoSProtection:
                    continue  # not processed; VenueCalls pauses before the next request
                except ccxt.OperationFailed as exc:
                    # A timeout, a 5xx, a dropped connection; also Binance's -1021 (too late
                    # for its window): whether it exists is learnt by looking it up.
                    log.warning(
                        "order outcome unknown",
                        extra={"client_order_id": cid, "error": type(exc).__name__},
                    )
                    unknown = True
                    continue
                except ccxt.ExchangeError as exc:
                    if isinstance(exc, ccxt.DuplicateOrderId) or "Duplicate order" in str(exc):
                        unknown = True  # an open order has this id: ours, sent before
                        continue
                    reason = f"exchange_{type(exc).__name__}"
                    return self._record(
                        cid, market.symbol, Report("rejected", reason=reason), epoch
                    )
                return self._record(
                    cid, market.symbol, report(order, market, self.config.fee_bps), epoch
                )
            found = self._look_up(cid, market, stamp + window)
            outcome = found or Report("not_placed", reason="send_attempts_exhausted")
            return self._record(cid, market.symbol, outcome, epoch)
        except _Unresolved:
            return ExecResult("unknown", reason="order_outcome_unknown")

    def _send(
        self, cid: str, record: Mapping[str, Any], market: Market, stamp: int, window: int
    ) -> Mapping[str, Any]:
        order: Mapping[str, Any] = self.calls.call(
            "create_order",
            lambda: self.calls.client.create_order(
                market.ccxt_symbol,
                "market",
                str(record["side"]).lower(),
                float(record.get("ordered_qty") or record["qty"]),
                None,
                {"clientOrderId": cid, "timestamp": stamp, "recvWindow": window},
            ),
        )
        return order

    def _look_up(self, cid: str, market: Market, closes_ms: int) -> Report | None:
        """The order's state once no copy of it can still arrive; None when not placed.

        Raises nothing for a lookup that fails (429, timeout): the caller sees the order
        as not found only after a clean "does not exist".
        """
        left = closes_ms + WINDOW_MARGIN_MS - self.calls.milliseconds()
        if left > 0 and not self._wait(left / 1000):
            raise _Unresolved(cid)
        for _ in range(5):
            try:
                order = self.calls.call(
                    "fetch_order",
                    lambda: self.calls.client.fetch_order(
                        None, market.ccxt_symbol, {"clientOrderId": cid}
                    ),
                )
            except ccxt.OrderNotFound:
                return None
            except ccxt.OperationFailed:
                continue
            return report(order, market, self.config.fee_bps)
        raise _Unresolved(cid)

    def _record(
        self,
        cid: str,
        symbol: str,
        outcome: Report,
        epoch: int,
        *,
        sent: tuple[int, int] | None = None,
    ) -> ExecResult:
        a = self._keys
        keys = [
            a.fence(self.account),
            a.orders(self.account),
            a.positions(self.account),
            a.account(self.account),
            a.fills(self.account),
            a.inflight(self.account),
            a.reservations,
            a.snapshot(symbol),
            a.snapshot_index,
            a.portfolio_state,
            a.reservation_grants,
            a.reservation_releases,
        ]
        args: list[str | int] = [
            cid,
            outcome.status,
            repr(outcome.filled),
            repr(outcome.cost),
            repr(outcome.fee_quote),
            repr(outcome.fee_base),
            outcome.exchange_order_id,
            repr(float(self.calls.milliseconds()) / 1000),
            epoch,
            repr(FLAT),
            FILLS_MAXLEN,
            outcome.reason,
            str(sent[0]) if sent else "",
            str(sent[1]) if sent else "",
            self.account,
            a.snapshot(""),
        ]

        def record() -> list[Any]:
            reply: list[Any] = self._client.eval(RECORD, len(keys), *keys, *args)
            return reply

        status, payload = self._retry.run(record, f"record {cid}")
        if status == "missing":
            raise LookupError(f"order {cid} has no admission record")
        return _result(json.loads(payload))

    # -- the poller's part ---------------------------------------------------------------

    def resolve_inflight(self, epoch: int) -> int:
        """Look up every in-flight order whose send window has closed; how many remain
        unknown (their window still open, or the exchange gave no answer).

        An order found open is recorded (what it filled so far moves the ledger) and
        stays in flight without counting: the ledger holds its fills, so the account
        can be compared. Ours are market orders, so one still open after
        ``openOrderTimeoutSeconds`` is cancelled and its final state recorded.
        """
        inflight, orders = self._keys.inflight(self.account), self._keys.orders(self.account)

        def read() -> dict[str, str]:
            ids = sorted(str(i) for i in self._client.smembers(inflight))
            values = self._client.hmget(orders, ids) if ids else []
            return {i: str(v) for i, v in zip(ids, values, strict=True) if v is not None}

        records = self._retry.run(read, "read in-flight")
        remaining = 0
        for cid, raw in records.items():
            record = json.loads(raw)
            closes = int(record["sent_ms"]) + int(record["window_ms"])
            market = self.markets.get(str(record["symbol"]))
            if market is None or self.calls.milliseconds() < closes + WINDOW_MARGIN_MS:
                remaining += 1
                continue
            try:
                found = self._look_up(cid, market, closes)
                age_ms = self.calls.milliseconds() - int(record["sent_ms"])
                if found is not None and found.status == "open" and age_ms > self._open_ms():
                    found = self._cancel(cid, found.exchange_order_id, market)
            except _Unresolved:
                remaining += 1
                continue
            self._record(
                cid, market.symbol, found or Report("not_placed", reason="not_on_exchange"), epoch
            )
        return remaining

    def _open_ms(self) -> int:
        return int(self.config.open_order_timeout_seconds * 1000)

    def _cancel(self, cid: str, order_id: str, market: Market) -> Report | None:
        """Cancel our open order; its state afterwards (a fill may have won the race)."""
        log.warning("cancelling an order left open", extra={"client_order_id": cid})
        try:
            self.calls.call(
                "cancel_order",
                lambda: self.calls.client.cancel_order(
                    order_id or None, market.ccxt_symbol, {"clientOrderId": cid}
                ),
            )
        except ccxt.OrderNotFound:
            pass  # filled or cancelled meanwhile: the lookup says which
        except ccxt.BaseError:
            raise _Unresolved(cid) from None
        return self._look_up(cid, market, 0)


class _Unresolved(Exception):
    """A lookup that could not get an answer (stopping, or the exchange kept failing)."""


def _duplicate(record: Mapping[str, Any]) -> ExecResult:
    fill = Fill.from_json(json.dumps(record)) if "price" in record else None
    return ExecResult("duplicate", reason="client order id already executed", fill=fill)


def _result(record: Mapping[str, Any]) -> ExecResult:
    status = str(record["status"])
    if status in ("filled", "partial"):
        reason = "partial_fill" if status == "partial" else ""
        return ExecResult("filled", reason=reason, fill=Fill.from_json(json.dumps(record)))
    if status in ("open", "admitted"):
        return ExecResult("unknown", reason="order_open")
    return ExecResult("rejected", reason=str(record.get("reason") or status))
