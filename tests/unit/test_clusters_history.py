"""The clusters' persisted price points: exact round trips, garbage dropped on load, and
one row per cycle whatever the number of symbols."""

from __future__ import annotations

import numpy as np
import pytest

from tradingstack_workers.clusters.book import PriceBook
from tradingstack_workers.clusters.history import HistoryStore
from tradingstack_workers.clusters.rows import decode_row, encode_row, parse_member
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.redis_client import RetryPolicy

T = 1769492127.0


def test_legacy_history_members_round_trip() -> None:
    key, price, snapshot_ts = 1769492127.25, 0.1 + 0.2, 1769492120.5
    assert parse_member(f"{snapshot_ts!r}|{price!r}", key) == (key, price, snapshot_ts)


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
def test_unreadable_legacy_points_are_dropped(member: str, score: float) -> None:
    assert parse_member(member, score) is None


def test_a_row_round_trips_exactly() -> None:
    prices = np.array([0.1 + 0.2, 1e-300, 64_000.123456789, 5e300])
    stamps = np.array([T - 1, T - 0.001, T - 2.5, T - 3])
    row = decode_row(encode_row(T, ["AAA", "BB", "C1", "DDD"], prices, stamps), T)
    assert row is not None
    assert (row.key, row.symbols) == (T, ["AAA", "BB", "C1", "DDD"])
    assert row.prices.tolist() == prices.tolist()
    assert row.snapshot_ts.tolist() == stamps.tolist()


def test_an_empty_row_round_trips() -> None:
    row = decode_row(encode_row(T, [], np.empty(0), np.empty(0)), T)
    assert row is not None
    assert row.symbols == []
    assert len(row.prices) == 0


@pytest.mark.parametrize(
    ("member", "score"),
    [
        ("garbage", T),
        (encode_row(T, ["AAA"], np.ones(1), np.full(1, T)), T + 1),  # key is not the score
        (encode_row(T * 1000, ["AAA"], np.ones(1), np.full(1, T)), T * 1000),  # milliseconds
        (encode_row(T, ["AAA"], np.ones(1), np.full(1, T)).replace("AAA", "AAA,BBB"), T),
        (f"{T!r} AAA !!!! AAAAAAAAAAA=", T),  # not base64
    ],
)
def test_unreadable_rows_are_dropped(member: str, score: float) -> None:
    assert decode_row(member, score) is None


def test_unreadable_points_of_a_row_are_dropped() -> None:
    prices = np.array([1.0, np.nan, -1.0, 2.0, 3.0, np.inf])
    stamps = np.array([T, T, T, T * 1000, T, T])
    symbols = ["GOOD", "NAN", "NEGATIVE", "MILLIS", "bad-symbol", "INF"]
    row = decode_row(encode_row(T, symbols, prices, stamps), T)
    assert row is not None
    assert row.symbols == ["GOOD"]
    assert row.prices.tolist() == [1.0]


def store(lookback: int = 3, ttl_seconds: float = 600) -> HistoryStore:
    client = None  # commands are built, not sent
    return HistoryStore(client, RetryPolicy(budget_seconds=1), Keys(), lookback=lookback,  # type: ignore[arg-type]
                        ttl_seconds=ttl_seconds)  # fmt: skip


def test_a_cycle_of_any_size_is_one_row_written_by_one_zadd() -> None:
    """1000 symbols were 1000 ZADDs a cycle, 5 ms of Redis (issue #18)."""
    symbols = [f"S{i:04d}USDT" for i in range(1000)]
    book = PriceBook(3)
    book.append(symbols, T, np.full(1000, 100.0), np.full(1000, T - 1))
    commands = store().append_commands(book, T)
    assert [c[0] for c in commands] == ["ZREMRANGEBYSCORE", "ZADD", "ZREMRANGEBYSCORE", "PEXPIRE"]
    score = commands[1][2]
    assert commands[0][2:] == [score, score]  # the row at this key is replaced
    row = decode_row(str(commands[1][3]), float(score))
    assert row is not None
    assert row.symbols == symbols


def test_a_row_holds_every_symbol_sampled_at_its_key_and_only_those() -> None:
    book = PriceBook(3)
    book.append(["AAA", "BBB"], T, np.array([1.0, 2.0]), np.array([T - 1, T - 1]))
    book.append(["AAA"], T + 60, np.array([1.5]), np.array([T + 59]))
    # A cycle run again at T + 60 samples BBB only: AAA's point at that key stays in the row.
    book.append(["BBB"], T + 60, np.array([2.5]), np.array([T + 59]))
    zadd = store().append_commands(book, T + 60)[1]
    row = decode_row(str(zadd[3]), T + 60)
    assert row is not None
    assert (row.symbols, row.prices.tolist()) == (["AAA", "BBB"], [1.5, 2.5])
    assert store().append_commands(book, T + 120) == []  # nothing sampled at that key


def test_rows_are_kept_while_a_live_symbol_holds_their_points() -> None:
    book = PriceBook(2)
    for k in range(4):  # AAA: points at T+60, T+120, T+180 kept (lookback 2: the last two)
        book.append(["AAA"], T + 60 * k, np.array([1.0 + k]), np.array([T + 60 * k]))
    book.append(["OLD"], T - 6000, np.array([1.0]), np.array([T - 6000]))  # expired
    drop = store(lookback=2, ttl_seconds=600).append_commands(book, T + 180)[2]
    assert drop[2:] == ["-inf", f"({T + 120!r}"]
    book.append(["BBB"], T + 180, np.array([1.0]), np.array([T + 180]))
    book.append(["LIVE"], T - 300, np.array([1.0]), np.array([T - 300]))  # within the TTL
    drop = store(lookback=2, ttl_seconds=600).append_commands(book, T + 180)[2]
    assert drop[2:] == ["-inf", f"({T - 300!r}"]
