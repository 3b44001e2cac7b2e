"""THE execution chokepoint: one Lua script through which every order of an account passes.

Being one script, it runs atomically in Redis: nothing (another leader, a replayed
order, the kill switch) can slip between its checks and its fill. In order:

1. ``stale_epoch``: the order's epoch differs from ``Keys.fence(account)``. First,
   so that a zombie leader learns nothing else and changes nothing.
2. ``duplicate``: the client order id is already in ``Keys.orders(account)``; the
   original fill is returned (a retry after a lost reply finds its own fill). A paper
   record is kept ``order_ttl_seconds`` (7 days: longer than any replay reaches back),
   then pruned (``Keys.order_index(account)``), so the hash does not grow for ever.
3. ``rejected:bad_side|bad_qty|bad_price|no_account``: a malformed order.
4. Protections, for entries only (an order that does not merely reduce a
   position; a flip counts as an entry, as in the gate). Exits always run: lowering
   risk must never be blocked by a risk control.

   * ``rejected:halted``: ``Keys.halted`` is "1" (the kill switch, written by the
     operator, ``tradingstack halt`` or ``up``; ARGV carries a process-level flag
     too). Read here, not in the bot's loop, so a kill switch set a millisecond ago
     already holds.
   * ``rejected:notional_cap``: qty * mark above the per-order cap.
   * ``rejected:max_open_positions``: opening a symbol from flat when the account
     already holds that many. Counted here because only here is the count exact.
   * ``rejected:rate_limit``: as many fills in the last 60 s as allowed. The
     window (``Keys.order_rate``) counts fills only, and lives in Redis so that a
     restarting bot cannot reset it.

   A limit of 0 disables it. The budget is decided before the chokepoint by the
   bot's flow (an advisory input with a TTL, not account state).

   On the paper exchange (``SUBMIT``), also for entries:

   * ``rejected:permit_expired``: the order names its permit's reservation
     (``Keys.reservations``) and it is gone or past its expiry: exposure the gate no
     longer counts must not be added.
   * ``rejected:insufficient_funds``: the fill would leave cash below 0 (a purchase
     is paid in cash, fee included; nothing is borrowed), or the account's gross
     exposure above ``max_leverage`` times its equity (a short needs margin). Both
     are judged after the fill, every position at its last known mark
     (``Keys.marks``: this order's mark, the others' from their last fill or ledger
     write); ``rejected:no_mark`` when a held symbol has none.
5. Fill at mark +/- slippage (against the trader), fee on the filled notional;
   position, cash, mark, order record, rate window and fills stream change together,
   and the gate's view with them: the permit's reservation goes and the symbol's
   position snapshot takes the new position, in the same script. (A refusal ends the
   reservation too, in :class:`~.exchange.PaperExchange`; ``stale_epoch`` and
   ``duplicate`` leave it for the current leader.)

Numbers cross into and out of Lua as text with 17 significant digits (Lua's own
``tostring`` keeps 14, which would drift cash by cents over many fills).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...runtime import book, releases

#: Below this many units a position is flat (float noise from closing must not count).
FLAT = 1e-12
#: The fills stream keeps about this many entries.
FILLS_MAXLEN = 100_000
RATE_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Protections:
    """Limits checked at the chokepoint; 0 disables a limit."""

    max_open_positions: int = 0
    max_order_notional_usd: float = 0.0
    max_orders_per_minute: int = 0
    #: A process-level kill switch (no setting sets it; ``Keys.halted`` is the stack's).
    halted: bool = False


#: How long a paper order record (the duplicate check) is kept: a week, like a decision.
ORDER_TTL_SECONDS = 7 * 86_400
#: Expired records pruned per order at most (the work of one script stays bounded).
PRUNE_BATCH = 100


@dataclass(frozen=True)
class PaperConfig:
    """The paper account's terms: fees and slippage in basis points of the filled notional,
    starting cash, the most gross exposure per unit of equity (0: unchecked), and how long
    order records are kept."""

    fee_bps: float = 0.0
    slippage_bps: float = 0.0
    initial_cash_usd: float = 100_000.0
    max_leverage: float = 1.0
    order_ttl_seconds: int = ORDER_TTL_SECONDS

    def __post_init__(self) -> None:
        figures = (self.fee_bps, self.slippage_bps, self.initial_cash_usd, self.max_leverage)
        if min(figures) < 0:
            raise ValueError(
                "fee_bps, slippage_bps, initial_cash_usd and max_leverage must not be negative"
            )
        if self.order_ttl_seconds <= 0:
            raise ValueError("order_ttl_seconds must be above 0")


# KEYS: 1 fence, 2 orders, 3 positions, 4 account, 5 fills, 6 order_rate, 7 halted
# ARGV: 1 epoch, 2 client order id, 3 symbol, 4 side, 5 qty, 6 mark, 7 fee_bps,
#       8 slippage_bps, 9 max_open_positions, 10 max_order_notional_usd,
#       11 max_orders_per_minute, 12 now, 13 halted ("1"/"0"), 14 bot, 15 intent id,
#       16 fills maxlen, 17 flat, 18 rate window seconds
# Returns {status, payload}: filled -> record JSON, duplicate -> original record JSON,
# stale_epoch -> current epoch, rejected -> reason.
_CHECKS = """
local function num(x) return string.format('%.17g', x) end
local epoch = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if epoch ~= current then return {'stale_epoch', tostring(current)} end
local prior = redis.call('HGET', KEYS[2], ARGV[2])
if prior then return {'duplicate', prior} end
local side = ARGV[4]
if side ~= 'BUY' and side ~= 'SELL' then return {'rejected', 'bad_side'} end
local qty = tonumber(ARGV[5])
local mark = tonumber(ARGV[6])
if not qty or qty ~= qty or qty <= 0 or qty == math.huge then return {'rejected', 'bad_qty'} end
if not mark or mark ~= mark or mark <= 0 or mark == math.huge then
  return {'rejected', 'bad_price'}
end
local cash = tonumber(redis.call('HGET', KEYS[4], 'cash'))
if not cash then return {'rejected', 'no_account'} end
local flat = tonumber(ARGV[17])
local sign = 1
if side == 'SELL' then sign = -1 end
local pos = tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0')
local reducing = math.abs(pos) > flat and pos * sign < 0 and qty <= math.abs(pos) + flat
local now = tonumber(ARGV[12])
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. num(now - tonumber(ARGV[18])))
if not reducing then
  if ARGV[13] == '1' or redis.call('GET', KEYS[7]) == '1' then return {'rejected', 'halted'} end
  local cap = tonumber(ARGV[10])
  if cap > 0 and qty * mark > cap then return {'rejected', 'notional_cap'} end
  local max_open = tonumber(ARGV[9])
  if max_open > 0 and math.abs(pos) <= flat and redis.call('HLEN', KEYS[3]) >= max_open then
    return {'rejected', 'max_open_positions'}
  end
  local rate = tonumber(ARGV[11])
  if rate > 0 and redis.call('ZCARD', KEYS[6]) >= rate then return {'rejected', 'rate_limit'} end
end
"""


def _permit_expired(reservations: str) -> str:
    """Lua, for an entry: ``rejected:permit_expired`` unless the order's reservation (the
    local ``reservation``; '' when it names none) stands in the hash ``reservations`` (a
    KEYS reference) and has not expired by ``now``."""
    return f"""
if reservation ~= '' then
  local held = redis.call('HGET', {reservations}, reservation)
  if not held or tonumber(cjson.decode(held).expires_ts) < now then
    return {{'rejected', 'permit_expired'}}
  end
end
"""


# The paper exchange's own checks and its fill. KEYS as _CHECKS plus 8 marks, 9 the order
# index (record TTL), 10 reservations, 11 the symbol's position snapshot, 12 the snapshot
# index (Keys.snapshot_index), 13 the portfolio state, 14 the grant totals, 15 the
# releases (runtime.releases). ARGV as
# _CHECKS plus 19 order ttl seconds, 20 max leverage, 21 prune batch, 22 the permit's
# reservation (proposal id; '' when the order has none), 23 the account, 24 the snapshots'
# key prefix (the account's parts of the book: runtime.book).
_PAPER = (
    """
local ttl = tonumber(ARGV[19])
local stale = redis.call('ZRANGEBYSCORE', KEYS[9], '-inf', '(' .. num(now - ttl),
  'LIMIT', 0, tonumber(ARGV[21]))
for _, id in ipairs(stale) do
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[9], id)
end
local price = mark * (1 + sign * tonumber(ARGV[8]) / 10000)
local notional = qty * price
local fee = notional * tonumber(ARGV[7]) / 10000
local cash_after = cash - sign * notional - fee
local after = pos + sign * qty
if math.abs(after) <= flat then after = 0 end
local reservation = ARGV[22]
if not reducing then
"""
    + _permit_expired("KEYS[10]")
    + """
  if cash_after < 0 then return {'rejected', 'insufficient_funds'} end
  local leverage = tonumber(ARGV[20])
  if leverage > 0 then
    local equity = cash_after + after * mark
    local gross = math.abs(after) * mark
    local held = redis.call('HGETALL', KEYS[3])
    for i = 1, #held, 2 do
      if held[i] ~= ARGV[3] then
        local other = tonumber(redis.call('HGET', KEYS[8], held[i]))
        if not other then return {'rejected', 'no_mark'} end
        local units = tonumber(held[i + 1])
        equity = equity + units * other
        gross = gross + math.abs(units) * other
      end
    end
    if gross > equity * leverage then return {'rejected', 'insufficient_funds'} end
  end
end
if after == 0 then
  redis.call('HDEL', KEYS[3], ARGV[3])
else
  redis.call('HSET', KEYS[3], ARGV[3], num(after))
end
redis.call('HSET', KEYS[4], 'cash', num(cash_after))
redis.call('HSET', KEYS[8], ARGV[3], num(mark))
-- The gate sees the fill in the position at the instant the reservation goes.
release_reservation(KEYS[10], KEYS[14], KEYS[15], reservation)
redis.call('SADD', KEYS[12], ARGV[3])
book_fill(KEYS[13], KEYS[12], ARGV[24], KEYS[11], ARGV[23], after, num(cash_after),
  num(mark), num(now))
local record = {
  client_order_id = ARGV[2], bot = ARGV[14], intent_id = ARGV[15], symbol = ARGV[3],
  side = side, qty = num(qty), mark_price = num(mark), price = num(price),
  notional_usd = num(notional), fee_usd = num(fee), epoch = tostring(epoch),
  ts = num(now), position_after = num(after), cash_after = num(cash_after)
}
local encoded = cjson.encode(record)
redis.call('HSET', KEYS[2], ARGV[2], encoded)
redis.call('ZADD', KEYS[9], now, ARGV[2])
redis.call('ZADD', KEYS[6], now, ARGV[2])
local fields = {}
for k, v in pairs(record) do
  fields[#fields + 1] = k
  fields[#fields + 1] = v
end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[16], '*', unpack(fields))
return {'filled', encoded}
"""
)
SUBMIT = book.LUA + releases.LUA + _CHECKS + _PAPER

# The live exchange's door: the same checks, then the order is *admitted* instead of
# filled: its record (status ``admitted``) is the duplicate check from now on, it counts
# in the rate window, and it joins the account's in-flight set until the exchange's
# answer is recorded (``live.RECORD``, which also ends the permit's reservation). KEYS
# as _CHECKS plus 8 in-flight set, 9 reservations; ARGV as _CHECKS plus 19 the signing
# timestamp (exchange ms), 20 the send window (ms), 21 the permit's reservation ('' when
# none). Returns {'admitted', record JSON}, SUBMIT's refusals or permit_expired.
ADMIT = (
    _CHECKS
    + """
local reservation = ARGV[21]
if not reducing then
"""
    + _permit_expired("KEYS[9]")
    + """
end
local record = {
  client_order_id = ARGV[2], bot = ARGV[14], intent_id = ARGV[15], symbol = ARGV[3],
  side = side, qty = num(qty), mark_price = num(mark), epoch = tostring(epoch),
  ts = num(now), status = 'admitted', sent_ms = ARGV[19], window_ms = ARGV[20],
  filled = '0', cost = '0', fee = '0', exchange_order_id = '', reservation = reservation
}
local encoded = cjson.encode(record)
redis.call('HSET', KEYS[2], ARGV[2], encoded)
redis.call('ZADD', KEYS[6], now, ARGV[2])
redis.call('SADD', KEYS[8], ARGV[2])
return {'admitted', encoded}
"""
)
