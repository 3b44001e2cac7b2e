"""Seed the stack's book (runtime.book) as bot accounts' ledgers write it."""

from __future__ import annotations

import redis

from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime import book

NOW = 1_800_000_000.0


def write_account(r: redis.Redis, keys: Keys, account: str, equity: float, held: float) -> None:
    """What one account's ledger writes of the book, through the writers' own Lua."""
    script = (
        book.LUA
        + """
book_portfolio(KEYS[1], ARGV[1], ARGV[2], ARGV[2], ARGV[3])
book_position(KEYS[2], ARGV[1], tonumber(ARGV[4]), '100', ARGV[3])
redis.call('SADD', KEYS[3], 'BTCUSDT')
"""
    )
    keys_ = (keys.portfolio_state, keys.snapshot("BTCUSDT"), keys.snapshot_index)
    r.eval(script, 3, *keys_, account, repr(equity), repr(NOW), repr(held))
