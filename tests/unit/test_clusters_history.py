"""The clusters' persisted price points: exact round trips, garbage dropped on load."""

from __future__ import annotations

import pytest

from tradingstack_workers.clusters.history import member, parse_member


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
