"""The ledger: publish the account as the rest of the pipeline reads it.

After each fill and every cycle the leader writes its account's part of the position
snapshots and of the portfolio state (equity, drawdown below the peak), which hold the
whole book of the stack (:mod:`.book`), and each symbol's market state, in the shapes of
:mod:`...wire.ledger`. The write is fenced like an order: a zombie
leader's stale view never overwrites the current leader's. Peak equity lives in
the account hash (``peak_equity``) so drawdown survives a restart, and the script
only ever raises it.

The read (account state) and the write are two round trips; only the leader
writes and it does so between its own fills, so nothing changes in between.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import redis

from ...keys import Keys
from ...runtime import book
from ...runtime.redis_client import RetryPolicy
from ...wire.ledger import MarketStateHash, PortfolioStateHash, PositionSnapshot
from .exchange import Execution

# KEYS: 1 fence, 2 account, 3 the snapshot index, 4 the portfolio state, then ARGV[5]'s
# snapshots in its order, then the hashes to replace. ARGV: 1 epoch, 2 equity, 3 now, 4 the
# account, 5 JSON list of [symbol, position, mark] (the snapshots), 6 JSON list of flat
# field lists, one per hash to replace, 7 the snapshots' key prefix, 8 cash. Returns 1
# written, 0 stale epoch.
_WRITE = (
    book.LUA
    + f"""
if tonumber(ARGV[1]) ~= tonumber(redis.call('GET', KEYS[1]) or '0') then return 0 end
local peak = tonumber(redis.call('HGET', KEYS[2], 'peak_equity'))
if not peak or tonumber(ARGV[2]) > peak then
  redis.call('HSET', KEYS[2], 'peak_equity', ARGV[2])
end
local index, state, account, now, prefix = KEYS[3], KEYS[4], ARGV[4], ARGV[3], ARGV[7]
local snapshots = cjson.decode(ARGV[5])
book_join(state, index, prefix, account, function()
  for i, s in ipairs(snapshots) do
    redis.call('SADD', index, s[1])
    book_position(KEYS[i + 4], account, tonumber(s[2]), s[3], now)
  end
  redis.call('HSET', state, '{book.CASH}' .. account, ARGV[8], '{book.EQUITY}' .. account,
    ARGV[2], '{book.TIMESTAMP}' .. account, now)
end)
book_totals(state, index, prefix)
local first = #snapshots + 5
for i, fields in ipairs(cjson.decode(ARGV[6])) do
  redis.call('DEL', KEYS[first + i - 1])
  redis.call('HSET', KEYS[first + i - 1], unpack(fields))
end
return 1
"""
)


def equity_usd(cash: float, positions: Mapping[str, float], marks: Mapping[str, float]) -> float:
    """Cash plus every position at its mark (a position without a mark is an error)."""
    missing = sorted(set(positions) - set(marks))
    if missing:
        raise ValueError(f"no mark price for held symbols: {', '.join(missing)}")
    return cash + sum(qty * marks[symbol] for symbol, qty in positions.items())


def drawdown_pct(equity: float, peak: float) -> float:
    """Percent below the peak, 0 at or above it (and when no peak is known)."""
    if peak <= 0 or equity >= peak:
        return 0.0
    return (peak - equity) / peak * 100.0


@dataclass(frozen=True)
class LedgerWrite:
    """What one ledger write published (None from :meth:`Ledger.write` when fenced off)."""

    portfolio: PortfolioStateHash
    peak_equity_usd: float
    snapshots: tuple[PositionSnapshot, ...]


class Ledger:
    """Writes for the account of ``exchange``, through the same Redis."""

    def __init__(
        self, client: redis.Redis, retry: RetryPolicy, keys: Keys, exchange: Execution
    ) -> None:
        self._client = client
        self._retry = retry
        self._keys = keys
        self._exchange = exchange

    def write(
        self,
        epoch: int,
        marks: Mapping[str, float],
        markets: Mapping[str, MarketStateHash],
        now: float,
    ) -> LedgerWrite | None:
        """Snapshots for every symbol in ``marks`` (flat ones too: clusters needs their
        prices), portfolio state, and the given market states; ``now`` in epoch seconds."""
        state = self._exchange.state()
        equity = equity_usd(state.cash_usd, state.positions, marks)
        peak = max(equity, state.peak_equity_usd or equity)
        portfolio = PortfolioStateHash(
            equity_usd=equity,
            drawdown=drawdown_pct(equity, peak),
            timestamp=now,
            drawdown_unit="pct",
        )
        snapshots = tuple(
            PositionSnapshot(
                symbol=symbol,
                position_amt=state.positions.get(symbol, 0.0),
                mark_price=mark,
                ts_epoch=now,
            )
            for symbol, mark in sorted(marks.items())
        )
        account = self._exchange.account
        replaced: list[tuple[str, dict[str, str]]] = [
            (self._keys.market_state(sym), m.to_fields()) for sym, m in sorted(markets.items())
        ]
        if marks:
            # The chokepoint's margin check values every held position at these marks.
            replaced.append((self._keys.marks(account), {s: repr(m) for s, m in marks.items()}))
        keys = [
            self._keys.fence(account),
            self._keys.account(account),
            self._keys.snapshot_index,
            self._keys.portfolio_state,
            *(self._keys.snapshot(s.symbol) for s in snapshots),
            *(k for k, _ in replaced),
        ]
        parts = json.dumps(
            [[s.symbol, repr(s.position_amt), repr(s.mark_price)] for s in snapshots]
        )
        payload = json.dumps([[x for kv in fields.items() for x in kv] for _, fields in replaced])

        def write() -> int:
            reply = self._client.eval(
                _WRITE, len(keys), *keys, epoch, repr(equity), repr(now), account, parts, payload,
                self._keys.snapshot(""), repr(state.cash_usd),
            )  # fmt: skip
            return int(reply)

        if not self._retry.run(write, f"ledger {account}"):
            return None
        return LedgerWrite(portfolio, peak, snapshots)
