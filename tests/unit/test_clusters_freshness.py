"""A frozen feed, told from the sampled history alone: the last price change is too old."""

from __future__ import annotations

from tradingstack_workers.clusters.correlation import PricePoint
from tradingstack_workers.clusters.freshness import frozen_symbols, unchanged_since

T = 1_769_000_000.0


def points(*prices: float, every: float = 60.0) -> list[PricePoint]:
    return [PricePoint(key=T + i * every, price=p) for i, p in enumerate(prices)]


def test_unchanged_since_is_where_the_last_run_of_equal_prices_began() -> None:
    assert unchanged_since([]) is None
    assert unchanged_since(points(1, 2, 3)) == T + 120
    assert unchanged_since(points(1, 2, 2, 2)) == T + 60
    assert unchanged_since(points(5, 5, 5)) == T


def test_a_symbol_is_frozen_once_its_price_has_not_changed_for_longer_than_the_limit() -> None:
    histories = {
        "MOVING": points(1, 2, 3, 4, 5, 6),
        "STUCK": points(1, 2, 2, 2, 2, 2),  # rewritten every cycle, the same price
        "SILENT": points(1, 2, 3),  # its snapshot stopped: no point since T + 120
    }
    now = T + 300
    symbols = ["MOVING", "STUCK", "SILENT", "NEW"]
    assert frozen_symbols(histories, symbols, now, frozen_after_s=170) == ("SILENT", "STUCK")
    assert frozen_symbols(histories, symbols, now, frozen_after_s=200) == ("STUCK",)
    assert frozen_symbols(histories, symbols, now, frozen_after_s=240) == ()  # not "longer"
    assert frozen_symbols(histories, symbols, now, frozen_after_s=600) == ()
    # Only the symbols asked about (those with a snapshot this cycle) are judged.
    assert frozen_symbols(histories, ["MOVING"], now + 2, frozen_after_s=1) == ("MOVING",)
    assert frozen_symbols(histories, [], now, frozen_after_s=1) == ()
