"""The clusters' persisted price points: exact round trips, garbage dropped on load."""

from __future__ import annotations

import numpy as np
import pytest

from tradingstack_workers.clusters.history import HistoryStore, member, parse_member
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.redis_client import RetryPolicy


def test_history_members_round_trip() -> None:
    key, price, snapshot_ts = 1769492127.25, 0.1 + 0.2, 1769492120.5
    assert parse_member(member(snapshot_ts, price), key) == (key, price, snapshot_ts)


@pytest.mark.parametrize(
    ("member", "score"),
    [
        ("garbage", 1769492127.0),
        ("1769492120.0|x", 1769492127.0),
        ("1769492120.0|nan", 1769492127.0),
        ("1769492120.0|-1.0", 1769492127.0),
        ("1769492120000.0|1.0", 1769492127.0),  # a snapshot time in milliseconds
        ("1769492120.0|1.0", 1769492127000.0),  # a sampling key in milliseconds
        ("1769492120.0|1.0", 1.0),
    ],
)
def test_unreadable_points_are_dropped(member: str, score: float) -> None:
    assert parse_member(member, score) is None


def test_a_cycle_writes_one_zadd_a_point_and_upkeep_only_when_asked() -> None:
    client = None  # commands are built, not sent
    store = HistoryStore(client, RetryPolicy(budget_seconds=1), Keys(), lookback=3, ttl_seconds=60)  # type: ignore[arg-type]
    t = 1769492127.0
    prices, stamps = np.array([1.0, 2.0]), np.array([t - 1, t - 2])
    plain = store.append_commands(["A", "B"], t, prices, stamps, upkeep=False)
    assert [c[0] for c in plain] == ["ZADD", "ZADD"]
    again = store.append_commands(["A", "B"], t, prices, stamps, replacing={"B"}, upkeep=False)
    assert [c[0] for c in again] == ["ZADD", "ZREMRANGEBYSCORE", "ZADD"]
    kept = store.append_commands(["A"], t, prices[:1], stamps[:1])
    assert [c[0] for c in kept] == ["ZADD", "ZREMRANGEBYRANK", "PEXPIRE"]
    assert kept[1][2:] == [0, -4]
