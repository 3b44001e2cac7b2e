"""Snapshot parsing: every malformed shape is a typed reason, never an exception."""

from __future__ import annotations

import pytest

from tradingstack_workers.clusters.history import SampledPoint
from tradingstack_workers.clusters.snapshots import Malformed, Snapshot, parse_snapshot

GOOD = {"position_amt": "-0.5", "mark_price": "64000.5", "ts_epoch": "1769492127"}


def test_a_good_snapshot_parses_with_signed_exposure() -> None:
    snap = parse_snapshot("BTCUSDT", GOOD)
    assert snap == Snapshot("BTCUSDT", -0.5, 64000.5, 1769492127.0)
    assert isinstance(snap, Snapshot)
    assert snap.exposure == -32000.25


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, Malformed.EMPTY),
        ({k: v for k, v in GOOD.items() if k != "ts_epoch"}, Malformed.MISSING_FIELD),
        ({**GOOD, "mark_price": "sixty thousand"}, Malformed.NOT_A_NUMBER),
        ({**GOOD, "position_amt": ""}, Malformed.NOT_A_NUMBER),
        ({**GOOD, "mark_price": "nan"}, Malformed.NOT_A_NUMBER),
        ({**GOOD, "ts_epoch": "inf"}, Malformed.NOT_A_NUMBER),
        ({**GOOD, "mark_price": "0"}, Malformed.BAD_PRICE),
        ({**GOOD, "mark_price": "-1"}, Malformed.BAD_PRICE),
    ],
)
def test_malformed_snapshots_give_a_reason(fields: dict[str, str], reason: Malformed) -> None:
    assert parse_snapshot("X", fields) is reason


def test_history_members_round_trip_and_garbage_is_dropped() -> None:
    point = SampledPoint(key=1769492127.25, price=0.1 + 0.2, snapshot_ts=1769492120.5)
    assert SampledPoint.parse(point.member(), point.key) == point
    assert SampledPoint.parse("garbage", 1.0) is None
    assert SampledPoint.parse("1.0|x", 1.0) is None
