"""A frozen feed, told from the sampled history alone: the last price change is too old."""

from __future__ import annotations

from tradingstack_workers.clusters.book import PriceBook, from_points
from tradingstack_workers.clusters.freshness import frozen_symbols

T = 1_769_000_000.0


def points(*prices: float, every: float = 60.0) -> list[tuple[float, float]]:
    return [(T + i * every, p) for i, p in enumerate(prices)]


def since(*prices: float) -> float | None:
    return from_points({"X": points(*prices)}, 100).unchanged_since(["X"]).get("X")


def test_unchanged_since_is_where_the_last_run_of_equal_prices_began() -> None:
    assert PriceBook(10).unchanged_since(["X"]) == {}
    assert since(1, 2, 3) == T + 120
    assert since(1, 2, 2, 2) == T + 60
    assert since(5, 5, 5) == T


def test_a_symbol_is_frozen_once_its_price_has_not_changed_for_longer_than_the_limit() -> None:
    book = from_points(
        {
            "MOVING": points(1, 2, 3, 4, 5, 6),
            "STUCK": points(1, 2, 2, 2, 2, 2),  # rewritten every cycle, the same price
            "SILENT": points(1, 2, 3),  # its snapshot stopped: no point since T + 120
        },
        100,
    )
    now = T + 300
    symbols = ["MOVING", "STUCK", "SILENT", "NEW"]
    assert frozen_symbols(book, symbols, now, frozen_after_s=170) == ("SILENT", "STUCK")
    assert frozen_symbols(book, symbols, now, frozen_after_s=200) == ("STUCK",)
    assert frozen_symbols(book, symbols, now, frozen_after_s=240) == ()  # not "longer"
    assert frozen_symbols(book, symbols, now, frozen_after_s=600) == ()
    # Only the symbols asked about (those with a snapshot this cycle) are judged.
    assert frozen_symbols(book, ["MOVING"], now + 2, frozen_after_s=1) == ("MOVING",)
    assert frozen_symbols(book, [], now, frozen_after_s=1) == ()
