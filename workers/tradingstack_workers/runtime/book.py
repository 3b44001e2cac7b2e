"""The stack's book: every bot account's part in the one snapshot per symbol and the one
portfolio state that clusters, the gate and the governor read.

Each bot trades an account of its own (``render.names.account``), but the readers judge
the whole book: seed 002's ``state:portfolio`` holds the *total* portfolio equity, and a
symbol's snapshot is what the stack holds of it. So a writer never replaces those
hashes. It keeps its account's parts in them (``position_amt:<account>`` in a snapshot;
``cash_usd:``, ``equity_usd:`` and ``timestamp:<account>`` in the portfolio state) and,
in the same script, sets the seed's fields to the book's figures:

- ``position_amt``: the sum of the accounts' parts; ``mark_price`` and ``ts_epoch``: the
  writer's (the latest mark).
- ``equity_usd`` (USD): every account's cash plus every symbol's summed position at its
  snapshot's mark. One mark per symbol: summing the accounts' own equities would mix
  marks of different moments (each bot writes on its own cycle), and in a hedged book
  every swing would leave a peak the book never had.
- ``drawdown``: percent below ``peak_equity_usd``, the book's highest equity. An account
  joining (its first part) or retired shifts the peak by the equity it brings or takes,
  so the book's loss in USD below its peak stays what it was: a new bot is no gain, a
  removed one no loss (and its losses stay the book's).
- ``timestamp``: the oldest account's ledger write (epoch seconds). The sum holds each
  account's last cash, so it is as old as its oldest part: a bot that stops writing ages
  the book (the gate denies ``portfolio_stale``, the governor falls back to its last good
  state) instead of leaving its stale part in a fresh-looking sum.

A fill writes its account's position and cash parts together, so the book never holds a
position without the cash it cost. ``equity_usd:<account>`` (the account's equity at its
own marks) is for people (``status``); no figure sums it.

The book is the accounts of the bots the stack declares. A bot removed from the spec
stops writing, but its parts would stay: its cash would still count in the gate's
capacity. So the supervisor (the operator on every reconciliation that is not paused,
``up`` at start) calls :func:`retire` with the declared accounts, which drops every
other account's parts and sets the figures again.

A part that is not a number (a hand edit) makes the book's field that part's text,
``bad part <field>=<value>``: readers report the field malformed, so the gate denies on
it, and the writer's script still finishes its other writes (an error would stop a
script after its first writes: Redis does not roll a script back).

Readers parse with ``extra="ignore"`` (``wire.fields.WIRE``), so the parts are
invisible to them; a hash written before the book, or by a seed's single writer, reads
as before until an account writes. Account names match ``^[A-Za-z0-9_.-]*$``
(``BotSettings.account``): no ``:``, so a field names one account. The scripts name
the snapshot keys from the index (standalone Redis and Sentinel only: no Cluster).
"""

from __future__ import annotations

from collections.abc import Collection

import redis

from ..keys import Keys
from .redis_client import RetryPolicy

#: Field prefixes of the accounts' parts (``<prefix><account>``).
POSITION = "position_amt:"
CASH = "cash_usd:"
EQUITY = "equity_usd:"
TIMESTAMP = "timestamp:"
#: The book's highest equity (USD), in the portfolio state, shifted as accounts join and leave.
PEAK = "peak_equity_usd"

#: Defines the book's functions; every script that writes a part starts with it. Each
#: function takes the portfolio state's key, the snapshot index's key and the snapshots'
#: key prefix (``Keys.snapshot("")``): the book's equity values every snapshot.
LUA = f"""
local function book_num(x) return string.format('%.17g', x) end
-- Fold the parts under PREFIX; a part that is not a number makes the result that part's
-- text, so readers report the book's field malformed while the script goes on.
local function book_fold(fields, prefix, fold, start)
  local acc = start
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, #prefix) == prefix then
      local v = tonumber(fields[i + 1])
      if not v then return 'bad part ' .. fields[i] .. '=' .. fields[i + 1] end
      acc = fold(acc, v)
    end
  end
  return book_num(acc)
end
local function book_add(a, b) return a + b end
local function book_has(fields, prefix)
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, #prefix) == prefix then return true end
  end
  return false
end
-- The snapshot KEY's position_amt: the sum of its parts.
local function book_position_total(key)
  local total = book_fold(redis.call('HGETALL', key), '{POSITION}', book_add, 0)
  redis.call('HSET', key, 'position_amt', total)
end
-- The account's position in the symbol's snapshot KEY (0: its part goes), then the
-- book's: the sum, at the writer's mark and time (both text).
local function book_position(key, account, qty, mark, now)
  local own = '{POSITION}' .. account
  if qty == 0 then
    redis.call('HDEL', key, own)
  else
    redis.call('HSET', key, own, book_num(qty))
  end
  book_position_total(key)
  redis.call('HSET', key, 'mark_price', mark, 'ts_epoch', now)
end
-- The book's equity (text): every account's cash, plus every symbol's summed parts at
-- its snapshot's mark. One mark per symbol for all accounts: a sum of the accounts' own
-- equities would mix marks of different moments, and each swing would leave a peak the
-- book never had.
local function book_equity(state, index, prefix)
  local cash = book_fold(redis.call('HGETALL', state), '{CASH}', book_add, 0)
  local total = tonumber(cash)
  if not total then return cash end
  for _, symbol in ipairs(redis.call('SMEMBERS', index)) do
    local fields = redis.call('HGETALL', prefix .. symbol)
    local summed = book_fold(fields, '{POSITION}', book_add, 0)
    local held = tonumber(summed)
    if not held then return summed end
    if held ~= 0 then
      local mark
      for i = 1, #fields, 2 do
        if fields[i] == 'mark_price' then mark = tonumber(fields[i + 1]) end
      end
      if not mark then return 'no mark_price for ' .. symbol end
      total = total + held * mark
    end
  end
  return book_num(total)
end
-- Run CHANGE (an account joining or leaving) and shift the peak by the equity it moved,
-- so the book's USD loss below its peak stays what it was.
local function book_reshape(state, index, prefix, change)
  local before = tonumber(book_equity(state, index, prefix))
  change()
  local after = tonumber(book_equity(state, index, prefix))
  local peak = tonumber(redis.call('HGET', state, '{PEAK}') or '')
  if peak and before and after and after ~= before then
    redis.call('HSET', state, '{PEAK}', book_num(peak + after - before))
  end
end
-- Run WRITE (the account's parts); an account that joins the book (no cash part before)
-- reshapes it, so joining reads as no gain and no loss.
local function book_join(state, index, prefix, account, write)
  if redis.call('HEXISTS', state, '{CASH}' .. account) == 1 then
    write()
  else
    book_reshape(state, index, prefix, write)
  end
end
-- A fill: the account's position and cash parts together, so the book never holds a
-- position without the cash it cost. QTY a number; CASH, MARK, NOW text.
local function book_fill(state, index, prefix, snapshot, account, qty, cash, mark, now)
  book_join(state, index, prefix, account, function()
    book_position(snapshot, account, qty, mark, now)
    redis.call('HSET', state, '{CASH}' .. account, cash)
  end)
end
-- The portfolio state's figures: equity, drawdown below the peak (raised to the equity),
-- the oldest account write. With no account left, the state goes (equity unknown).
local function book_totals(state, index, prefix)
  local fields = redis.call('HGETALL', state)
  local oldest = book_fold(fields, '{TIMESTAMP}', math.min, math.huge)
  if not book_has(fields, '{CASH}') then
    redis.call('DEL', state)
    return
  end
  local equity = book_equity(state, index, prefix)
  local drawdown = equity
  local e = tonumber(equity)
  if e then
    local raw = redis.call('HGET', state, '{PEAK}')
    local peak = tonumber(raw or equity)
    if not peak then
      drawdown = 'bad {PEAK}=' .. raw
    else
      if e > peak then peak = e end
      drawdown = '0'
      if peak > 0 and e < peak then drawdown = book_num((peak - e) / peak * 100) end
      redis.call('HSET', state, '{PEAK}', book_num(peak))
    end
  end
  if oldest == book_num(math.huge) then oldest = 'no account has written its ledger' end
  redis.call('HSET', state, 'equity_usd', equity, 'drawdown', drawdown, 'timestamp', oldest,
    'drawdown_unit', 'pct')
end
"""

# KEYS: 1 the portfolio state, 2 the snapshot index, 3.. snapshots. ARGV: 1 the snapshots'
# key prefix, 2.. the declared accounts. Drops every other account's parts, shifts the
# peak by the equity they held (the book's loss below its peak stays what it was), and
# sets the figures again. Returns the dropped accounts.
_RETIRE = (
    LUA
    + f"""
local declared = {{}}
for i = 2, #ARGV do declared[ARGV[i]] = true end
local dropped, seen = {{}}, {{}}
local function prune(key, prefixes)
  local fields = redis.call('HGETALL', key)
  local pruned = false
  for i = 1, #fields, 2 do
    for _, prefix in ipairs(prefixes) do
      if string.sub(fields[i], 1, #prefix) == prefix then
        local account = string.sub(fields[i], #prefix + 1)
        if not declared[account] then
          redis.call('HDEL', key, fields[i])
          pruned = true
          if not seen[account] then
            seen[account] = true
            dropped[#dropped + 1] = account
          end
        end
      end
    end
  end
  return pruned
end
local state, index, prefix = KEYS[1], KEYS[2], ARGV[1]
local pruned = false
book_reshape(state, index, prefix, function()
  pruned = prune(state, {{'{CASH}', '{EQUITY}', '{TIMESTAMP}'}})
  for i = 3, #KEYS do
    if prune(KEYS[i], {{'{POSITION}'}}) then
      pruned = true
      book_position_total(KEYS[i])
    end
  end
end)
if pruned then book_totals(state, index, prefix) end
return dropped
"""
)


def retire(
    client: redis.Redis, retry: RetryPolicy, keys: Keys, declared: Collection[str]
) -> list[str]:
    """Drop the parts of every account not in ``declared`` (the stack's bots' accounts)
    from the portfolio state and the indexed snapshots; the accounts dropped, sorted.

    Two round trips: the snapshot index, then one script. A symbol indexed in between
    is written by a declared account, so it holds no part to drop. Raises redis errors
    once ``retry``'s budget is spent.
    """
    symbols = retry.run(lambda: sorted(map(str, client.smembers(keys.snapshot_index))), "index")
    names = [keys.portfolio_state, keys.snapshot_index, *(keys.snapshot(s) for s in symbols)]
    args = [keys.snapshot(""), *sorted(declared)]

    def run() -> list[str]:
        return sorted(map(str, client.eval(_RETIRE, len(names), *names, *args)))

    return retry.run(run, "retire accounts from the book")
