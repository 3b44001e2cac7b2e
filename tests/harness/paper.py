"""A paper exchange on a test's Redis, with the default fees and no protections."""

from __future__ import annotations

import redis

from tradingstack_workers.bots.execution import PaperConfig, PaperExchange, Protections
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.redis_client import RetryPolicy


def open_paper_exchange(client: redis.Redis, keys: Keys, account: str) -> PaperExchange:
    """The account opened (created once, so a second call keeps its cash and positions)."""
    exchange = PaperExchange(
        client,
        RetryPolicy(budget_seconds=2.0),
        keys,
        account,
        config=PaperConfig(),
        protections=Protections(),
    )
    exchange.open()
    return exchange
