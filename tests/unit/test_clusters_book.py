"""The price book: per-symbol histories as arrays, against plain per-point lists."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradingstack_workers.clusters.book import PriceBook, from_points
from tradingstack_workers.clusters.correlation import FailClosed, FailReason, shared_keys

T = 1_769_000_000.0


def append(book: PriceBook, symbols: list[str], key: float, price: float) -> None:
    n = len(symbols)
    book.append(symbols, key, np.full(n, price), np.full(n, key - 1))


def test_a_retried_cycle_replaces_its_point_and_an_older_one_is_refused() -> None:
    book = PriceBook(lookback=3)
    assert np.isnan(book.last(["A"])).all()  # no points: no last key, no last time
    for i, price in [(1, 10.0), (2, 20.0), (2, 21.0), (3, 30.0)]:
        append(book, ["A"], T + i, price)
    keys, prices, stamps = book.window("A")
    assert list(keys - T) == [1, 2, 3]
    assert list(prices) == [10.0, 21.0, 30.0]
    assert list(stamps - T) == [0, 1, 2]
    keys, stamps = book.last(["A", "B"])
    assert (keys[0], stamps[0]) == (T + 3, T + 2)
    assert np.isnan(keys[1])
    assert np.isnan(stamps[1])
    with pytest.raises(ValueError, match="older than the last one"):
        append(book, ["A"], T + 2.5, 1.0)
    assert book.length("A") == 3


@given(
    lookback=st.integers(1, 6),
    cycles=st.lists(st.sets(st.sampled_from("ABCD"), max_size=4), max_size=40),
)
def test_appends_keep_each_symbols_last_lookback_points_like_a_list(
    lookback: int, cycles: list[set[str]]
) -> None:
    """Whatever symbols each cycle samples (new ones, gaps, rows compacted at the end of
    the arrays), every window equals the last ``lookback`` points of a plain list."""
    book = PriceBook(lookback)
    expected: dict[str, list[tuple[float, float]]] = {}
    for cycle, sampled in enumerate(cycles):
        symbols = sorted(sampled)
        prices = np.array([cycle * 10.0 + ord(s) for s in symbols])
        book.append(symbols, T + cycle, prices, prices)
        for s, p in zip(symbols, prices, strict=True):
            expected[s] = [*expected.get(s, []), (T + cycle, float(p))][-lookback:]
    assert book.counts() == {s: len(v) for s, v in expected.items()}
    for symbol, points in expected.items():
        keys, prices, _ = book.window(symbol)
        assert list(zip(keys.tolist(), prices.tolist(), strict=True)) == points


@given(
    points=st.integers(20, 60),
    gaps=st.lists(st.lists(st.integers(0, 59), max_size=5), min_size=2, max_size=5),
    lookback=st.integers(20, 60),
)
def test_the_one_slice_and_the_shared_keys_give_the_same_matrix(
    points: int, gaps: list[list[int]], lookback: int
) -> None:
    """Same keys everywhere (one slice of the book) or gaps (shared keys): each column
    holds the symbol's prices at the keys all symbols share, the last ``lookback``."""
    rng = np.random.default_rng(0)
    symbols = [f"S{i}" for i in range(len(gaps))]
    data = {
        s: [(T + k, float(rng.uniform(1, 2))) for k in range(points) if k not in gap]
        for s, gap in zip(symbols, gaps, strict=True)
    }
    book = from_points(data, lookback)
    matrix = book.aligned_prices(symbols, lookback=lookback, min_points=2)
    windows = {s: dict(v[-lookback:]) for s, v in data.items()}
    shared = sorted(set.intersection(*(set(w) for w in windows.values())))[-lookback:]
    if len(shared) < 2:
        assert isinstance(matrix, FailClosed)
        assert matrix.reason in (FailReason.MISALIGNED, FailReason.TOO_SHORT)
        return
    assert not isinstance(matrix, FailClosed)
    expected = np.array([[windows[s][k] for s in symbols] for k in shared])
    assert np.array_equal(matrix, expected)
    keys = [book.window(s)[0] for s in symbols]
    assert list(shared_keys(keys)[-lookback:]) == shared


def test_a_symbol_without_points_fails_closed_as_too_short() -> None:
    book = from_points({"A": [(T + k, 1.0 + k) for k in range(30)]}, 30)
    result = book.aligned_prices(["A", "B"], lookback=30, min_points=20)
    assert isinstance(result, FailClosed)
    assert result.reason is FailReason.TOO_SHORT
    assert "B has 0 points" in result.detail


def test_windows_are_read_only_views() -> None:
    book = from_points({"A": [(T, 1.0), (T + 1, 2.0)]}, 5)
    keys, _, _ = book.window("A")
    with pytest.raises(ValueError, match="read-only"):
        keys[0] = 0.0
