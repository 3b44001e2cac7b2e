"""Seed the stack's book (runtime.book) as bot accounts' ledgers write it."""

from __future__ import annotations

import redis

from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime import book

NOW = 1_800_000_000.0


def hash_text(r: redis.Redis, key: str) -> dict[str, str]:
    """A hash as text, whatever the client's decoding."""
    return {str(k): str(v) for k, v in r.hgetall(key).items()}


def write_account(
    r: redis.Redis, keys: Keys, account: str, cash: float, held: float, *, mark: float = 100.0
) -> None:
    """One account's ledger write of the book (``held`` units of BTCUSDT at ``mark``),
    through the writers' own Lua."""
    script = (
        book.LUA
        + f"""
local state, index, prefix, account = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
book_join(state, index, prefix, account, function()
  redis.call('SADD', index, 'BTCUSDT')
  book_position(KEYS[3], account, tonumber(ARGV[4]), ARGV[5], ARGV[6])
  redis.call('HSET', state, '{book.CASH}' .. account, ARGV[3], '{book.TIMESTAMP}' .. account,
    ARGV[6])
end)
book_totals(state, index, prefix)
"""
    )
    names = (keys.portfolio_state, keys.snapshot_index, keys.snapshot("BTCUSDT"))
    args = (keys.snapshot(""), account, repr(cash), repr(held), repr(mark), repr(NOW))
    r.eval(script, len(names), *names, *args)
