"""RSI mean reversion on crafted closes (period 5, 30/70 unless stated); rules in its docstring."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.unit.strategies_data import bars, signals

from tradingstack_workers.bots.strategies import RsiMeanReversion, RsiParams
from tradingstack_workers.bots.strategies.indicators import wilder_rsi

#: Eight falling closes (RSI 0), then a 3-point bounce: Wilder averages 0.6 / 0.8, RSI 42.9.
SELLOFF_THEN_BOUNCE = [100.0 - i for i in range(8)] + [96.0, 95.5]


@pytest.fixture
def strategy() -> RsiMeanReversion:
    return RsiMeanReversion(RsiParams(period=5))


def test_wilder_rsi_matches_a_hand_computation() -> None:
    rsi = wilder_rsi(np.array(SELLOFF_THEN_BOUNCE), 5)
    assert np.isnan(rsi[:5]).all()
    assert rsi[5:8].tolist() == [0.0, 0.0, 0.0]
    gain, loss = (0 * 4 + 3.0) / 5, (1.0 * 4 + 0) / 5
    assert rsi[8] == pytest.approx(100 - 100 / (1 + gain / loss))
    gain, loss = (gain * 4 + 0) / 5, (loss * 4 + 0.5) / 5
    assert rsi[9] == pytest.approx(100 - 100 / (1 + gain / loss))


def test_rsi_leaving_oversold_buys_once(strategy: RsiMeanReversion) -> None:
    assert signals(strategy, bars(SELLOFF_THEN_BOUNCE)) == [(8, "BUY", "rsi_oversold_exit")]


def test_rsi_leaving_overbought_sells_and_the_move_back_through_50_exits(
    strategy: RsiMeanReversion,
) -> None:
    closes = [100.0 + 0.7 * i for i in range(8)] + [106.0, 107.5, 105.0, 104.0]
    found = signals(strategy, bars(closes))
    assert found == [(10, "SELL", "rsi_overbought_exit"), (11, "EXIT", "rsi_neutral_cross")]


@pytest.mark.parametrize(
    "closes",
    [
        pytest.param([100.0] * 30, id="flat: RSI stays 50"),
        pytest.param([100.0 + i for i in range(30)], id="only gains: RSI stays 100"),
        pytest.param([100.0 - i for i in range(30)], id="only losses: RSI stays 0"),
    ],
)
def test_no_signal(strategy: RsiMeanReversion, closes: list[float]) -> None:
    assert signals(strategy, bars(closes)) == []


def test_oversold_boundary_is_inclusive() -> None:
    rsi_at_bounce = float(wilder_rsi(np.array(SELLOFF_THEN_BOUNCE[:9]), 5)[-1])
    at = RsiMeanReversion(RsiParams(period=5, oversold=rsi_at_bounce))
    above = RsiMeanReversion(RsiParams(period=5, oversold=math.nextafter(rsi_at_bounce, 99)))
    series = bars(SELLOFF_THEN_BOUNCE[:9])
    signal = at.on_bars(series)
    assert signal is not None
    assert signal.side == "BUY"
    assert above.on_bars(series) is None


def test_warm_up_needs_period_plus_two_bars(strategy: RsiMeanReversion) -> None:
    series = bars(SELLOFF_THEN_BOUNCE)
    assert strategy.min_bars == 7
    assert all(strategy.on_bars(series[:n]) is None for n in range(7))
    assert strategy.history_bars == 50


def test_same_window_same_signal_whatever_came_before(strategy: RsiMeanReversion) -> None:
    # What a restarted bot relies on: it reloads the last history_bars bars and agrees.
    rng = np.random.default_rng(11)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    series = bars(closes.tolist())
    window = strategy.history_bars
    for t in range(window, len(series)):
        assert strategy.on_bars(series[: t + 1]) == strategy.on_bars(series[t + 1 - window : t + 1])
