"""Bollinger bounce on crafted closes (period 5, k 1.5 unless stated); rules in its docstring."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.strategies_data import bars, signals

from tradingstack_workers.bots.strategies import BollingerBounce, BollingerParams, build

FLAT = [100.0] * 6


@pytest.fixture
def strategy() -> BollingerBounce:
    return BollingerBounce(BollingerParams(period=5, k=1.5))


def test_dip_below_the_lower_band_and_back_inside_buys_once_at_the_rebound(
    strategy: BollingerBounce,
) -> None:
    closes = [*FLAT, 96.0, 98.0]
    assert signals(strategy, bars(closes)) == [(7, "BUY", "bb_lower_rebound")]
    # Independently: bar 6 closed under its lower band, bar 7 at or above its own.
    window6, window7 = np.array(closes[2:7]), np.array(closes[3:8])
    assert closes[6] < window6.mean() - 1.5 * window6.std()
    assert window7.mean() - 1.5 * window7.std() <= closes[7] < window7.mean()


def test_the_long_exits_when_the_close_reaches_the_middle_band(strategy: BollingerBounce) -> None:
    found = signals(strategy, bars([*FLAT, 96.0, 98.0, 99.5]))
    assert found == [(7, "BUY", "bb_lower_rebound"), (8, "EXIT", "bb_mid_cross")]


def test_spike_above_the_upper_band_and_back_inside_sells(strategy: BollingerBounce) -> None:
    found = signals(strategy, bars([*FLAT, 104.0, 102.0, 100.5]))
    assert found == [(7, "SELL", "bb_upper_rejection"), (8, "EXIT", "bb_mid_cross")]


def test_a_rebound_straight_past_the_middle_band_is_an_exit_not_an_entry(
    strategy: BollingerBounce,
) -> None:
    assert signals(strategy, bars([*FLAT, 96.0, 101.0])) == [(7, "EXIT", "bb_mid_cross")]


@pytest.mark.parametrize(
    "closes",
    [
        pytest.param([100.0] * 30, id="flat: zero-width bands"),
        pytest.param(list(np.arange(100.0, 130.0)), id="steady trend: between mid and upper"),
        pytest.param(list(np.arange(130.0, 100.0, -1.0)), id="steady fall: between lower and mid"),
    ],
)
def test_no_signal(strategy: BollingerBounce, closes: list[float]) -> None:
    assert signals(strategy, bars(closes)) == []


def test_closing_exactly_on_the_middle_band_counts_as_reaching_it(
    strategy: BollingerBounce,
) -> None:
    # Bar 8's window is 100, 100, 98, 102, 100: its mean is exactly its close.
    assert (8, "EXIT", "bb_mid_cross") in signals(strategy, bars([*FLAT, 98.0, 102.0, 100.0]))
    assert (8, "EXIT", "bb_mid_cross") not in signals(strategy, bars([*FLAT, 98.0, 102.0, 100.01]))


def test_warm_up_returns_none_until_period_plus_one_bars(strategy: BollingerBounce) -> None:
    series = bars([*FLAT[:5], 96.0, 98.0])
    assert strategy.min_bars == 6
    assert strategy.on_bars(series[:5]) is None
    assert strategy.on_bars([]) is None


def test_wider_bands_filter_the_same_dip() -> None:
    wide = build("bollinger_bounce", {"period": 5, "k": 3.0})
    assert signals(wide, bars([*FLAT, 96.0, 98.0])) == []


def test_buy_strength_is_the_room_left_to_the_middle_band(strategy: BollingerBounce) -> None:
    signal = strategy.on_bars(bars([*FLAT, 96.0, 98.0]))
    assert signal is not None
    window = np.array([100.0, 100.0, 100.0, 96.0, 98.0])
    expected = (window.mean() - 98.0) / (1.5 * window.std())
    assert signal.strength == pytest.approx(expected)
    assert signal.symbol == "TEST"
    assert "lower" in signal.detail
