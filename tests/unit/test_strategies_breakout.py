"""Breakout momentum on crafted bars (lookback 5); rules in its docstring."""

from __future__ import annotations

import pytest
from tests.unit.strategies_data import bars, signals

from tradingstack_workers.bots.strategies import BreakoutMomentum, BreakoutParams, build

RANGE = [100.0, 101.0, 100.0, 101.0, 100.5, 100.8]


@pytest.fixture
def strategy() -> BreakoutMomentum:
    return BreakoutMomentum(BreakoutParams(lookback=5, exit_lookback=3))


def test_first_close_above_the_prior_high_buys_once(strategy: BreakoutMomentum) -> None:
    # Bars 7 and 8 close higher still: the breakout already happened, no second BUY.
    found = signals(strategy, bars([*RANGE, 101.5, 102.0, 103.0]))
    assert found == [(6, "BUY", "breakout_high")]


def test_trend_reversal_exits_then_breaks_down(strategy: BreakoutMomentum) -> None:
    closes = [*RANGE, 101.5, 102.0, 103.0, 102.5, 101.0, 100.2, 99.5]
    found = signals(strategy, bars(closes))
    # Bar 10 closes under the 3-bar low (101.5); bar 11 under the 5-bar low (100.8).
    assert found == [
        (6, "BUY", "breakout_high"),
        (10, "EXIT", "channel_exit"),
        (11, "SELL", "breakout_low"),
    ]


def test_a_close_equal_to_the_prior_high_is_not_a_breakout(strategy: BreakoutMomentum) -> None:
    assert signals(strategy, bars([*RANGE, 101.0])) == []
    assert signals(strategy, bars([*RANGE, 101.01])) == [(6, "BUY", "breakout_high")]


def test_the_current_bars_own_high_is_not_part_of_its_channel(
    strategy: BreakoutMomentum,
) -> None:
    # A wick to 105 on the breakout bar must not raise the level it is compared with.
    closes = [*RANGE, 102.0]
    highs = [max(c, o) for c, o in zip(closes, [closes[0], *closes[:-1]], strict=True)]
    highs[-1] = 105.0
    assert signals(strategy, bars(closes, highs=highs)) == [(6, "BUY", "breakout_high")]


def test_no_signal_inside_a_fixed_range(strategy: BreakoutMomentum) -> None:
    closes = [99.0, 101.0] * 15
    found = signals(strategy, bars(closes, highs=[102.0] * 30, lows=[98.0] * 30))
    assert found == []


def test_warm_up_needs_lookback_plus_two_bars(strategy: BreakoutMomentum) -> None:
    series = bars([*RANGE, 101.5])
    assert strategy.min_bars == 7
    assert strategy.on_bars(series[:6]) is None
    assert strategy.on_bars(series) is not None


def test_exit_lookback_defaults_to_half_the_lookback() -> None:
    strategy = build("breakout_momentum", {"lookback": 20})
    assert isinstance(strategy, BreakoutMomentum)
    assert strategy.params.exit_window == 10
    assert BreakoutParams(lookback=3).exit_window == 1


def test_strength_is_the_breakout_as_a_share_of_the_channel_width(
    strategy: BreakoutMomentum,
) -> None:
    signal = strategy.on_bars(bars([*RANGE, 101.5]))
    assert signal is not None
    # Prior five bars: highest high 101.0, lowest low 100.0.
    assert signal.strength == pytest.approx(0.5)
