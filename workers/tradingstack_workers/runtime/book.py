"""The stack's book: every bot account's part in the one snapshot per symbol and the one
portfolio state that clusters, the gate and the governor read.

Each bot trades an account of its own (``render.names.account``), but the readers judge
the whole book: seed 002's ``state:portfolio`` holds the *total* portfolio equity, and a
symbol's snapshot is what the stack holds of it. So a writer never replaces those
hashes. It sets its account's own fields in them (``position_amt:<account>``;
``equity_usd:<account>``, ``peak_equity_usd:<account>``, ``timestamp:<account>``) and,
in the same script, the seed's fields to the book's figures:

- ``position_amt``: the sum of the accounts' positions; ``mark_price`` and ``ts_epoch``:
  the writer's (the latest mark).
- ``equity_usd``: the sum of the accounts' equities (USD).
- ``drawdown``: percent below the sum of the accounts' peaks. That is never below the
  drawdown from the peak of the summed equity (the accounts did not all peak at once),
  so it errs toward caution; and an account joining or leaving moves both sums, so it
  reads as no drawdown, where a peak of the summed equity would read a bot's removal
  as a loss.
- ``timestamp``: the oldest account write (epoch seconds): the sum holds each account's
  last equity, so it is as old as its oldest part. A bot that stops writing ages the
  book as a lone bot's state aged (the gate denies portfolio_stale, the governor falls
  back to its last good state) instead of leaving its stale equity in a fresh-looking
  sum. Each account's own time stays in ``timestamp:<account>``.

The book is the accounts of the bots the stack declares. A bot removed from the spec
stops writing, but its parts would stay: its equity would still count in the gate's
capacity. So the supervisor (the operator on every reconciliation, ``up`` at start)
calls :func:`retire` with the declared accounts, which drops every other account's
parts and sets the sums again.

A part that is not a number (a hand edit) makes the book's field that part's text,
``bad part <field>=<value>``: readers report the field malformed, so the gate denies on
it, and the writer's script still finishes its other writes (an error would stop a
script after its first writes: Redis does not roll a script back).

Readers parse with ``extra="ignore"`` (``wire.fields.WIRE``), so the parts are
invisible to them; a hash written before the book, or by a seed's single writer, reads
as before until an account writes. Account names match ``^[A-Za-z0-9_.-]*$``
(``BotSettings.account``): no ``:``, so a field names one account.
"""

from __future__ import annotations

from collections.abc import Collection

import redis

from ..keys import Keys
from .redis_client import RetryPolicy

#: Field prefixes of the accounts' parts (``<prefix><account>``).
POSITION = "position_amt:"
EQUITY = "equity_usd:"
PEAK = "peak_equity_usd:"
TIMESTAMP = "timestamp:"
PORTFOLIO_PARTS = (EQUITY, PEAK, TIMESTAMP)

#: Defines ``book_position`` (an account's position in a snapshot) and ``book_portfolio``
#: (an account's equity in the portfolio state); every script that writes either starts
#: with it.
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
-- The portfolio state KEY's sums; with no part left, the state goes (equity unknown).
local function book_portfolio_totals(key)
  local fields = redis.call('HGETALL', key)
  local total = book_fold(fields, '{EQUITY}', book_add, 0)
  local top = book_fold(fields, '{PEAK}', book_add, 0)
  local oldest = book_fold(fields, '{TIMESTAMP}', math.min, math.huge)
  if oldest == book_num(math.huge) then
    redis.call('DEL', key)
    return
  end
  local drawdown = '0'
  local t, p = tonumber(total), tonumber(top)
  if not p then
    drawdown = top
  elseif t and p > 0 and t < p then
    drawdown = book_num((p - t) / p * 100)
  end
  redis.call('HSET', key, 'equity_usd', total, 'drawdown', drawdown, 'timestamp', oldest,
    'drawdown_unit', 'pct')
end
-- The account's equity, peak and time (text) in the portfolio state KEY, then the book's.
local function book_portfolio(key, account, equity, peak, now)
  redis.call('HSET', key, '{EQUITY}' .. account, equity, '{PEAK}' .. account, peak,
    '{TIMESTAMP}' .. account, now)
  book_portfolio_totals(key)
end
"""

# KEYS: 1 the portfolio state, 2.. snapshots. ARGV: the declared accounts. Drops every
# other account's parts and sets the sums of each hash that lost one. Returns the
# dropped accounts.
_RETIRE = (
    LUA
    + f"""
local declared = {{}}
for _, account in ipairs(ARGV) do declared[account] = true end
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
if prune(KEYS[1], {{'{EQUITY}', '{PEAK}', '{TIMESTAMP}'}}) then book_portfolio_totals(KEYS[1]) end
for i = 2, #KEYS do
  if prune(KEYS[i], {{'{POSITION}'}}) then book_position_total(KEYS[i]) end
end
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
    names = [keys.portfolio_state, *(keys.snapshot(s) for s in symbols)]
    args = sorted(declared)

    def run() -> list[str]:
        return sorted(map(str, client.eval(_RETIRE, len(names), *names, *args)))

    return retry.run(run, "retire accounts from the book")
