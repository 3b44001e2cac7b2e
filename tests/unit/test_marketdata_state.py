"""market_state: daily realised volatility and regime labels the governor agrees with."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradingstack_workers.bots.marketdata import Bar, market_state, regime
from tradingstack_workers.governor.budget import VOL_LEVELS, vol_level
from tradingstack_workers.governor.inputs import MarketState
from tradingstack_workers.wire.ledger import VOL_REGIMES

DAY = 86400.0


def zigzag(per_bar: float, n: int = 61, step_s: float = DAY) -> list[Bar]:
    """Log returns alternating +r, -r: their sample std is exactly known."""
    log_px = np.cumsum([0.0] + [per_bar if i % 2 == 0 else -per_bar for i in range(n - 1)])
    closes = 100.0 * np.exp(log_px)
    return [Bar("X", (i + 1) * step_s, c, c, c, c, 1.0) for i, c in enumerate(closes.tolist())]


def expected_std(per_bar: float, returns: int) -> float:
    # Mean of an even count of +r/-r is 0, so the ddof-1 std is r * sqrt(n / (n - 1)).
    return per_bar * math.sqrt(returns / (returns - 1))


@pytest.mark.parametrize(
    ("per_bar", "label"),
    [(0.002, "LOW_VOL"), (0.01, "NORMAL_VOL"), (0.025, "HIGH_VOL"), (0.05, "EXTREME_VOL")],
)
def test_regimes_on_crafted_daily_volatility(per_bar: float, label: str) -> None:
    state = market_state(zigzag(per_bar))
    assert state is not None
    assert state.sigma == pytest.approx(expected_std(per_bar, 60))
    assert state.vol_regime == label


def test_sigma_is_scaled_to_one_day_from_the_bar_spacing() -> None:
    hourly = market_state(zigzag(0.002, step_s=3600.0))
    assert hourly is not None
    assert hourly.sigma == pytest.approx(expected_std(0.002, 60) * math.sqrt(24))
    assert hourly.vol_regime == "NORMAL_VOL"


def test_only_the_last_window_counts() -> None:
    calm_then_wild = zigzag(0.001, n=200)
    wild = zigzag(0.05, n=21)
    last = calm_then_wild[-1]
    shifted = [Bar("X", last.ts + b.ts, b.open, b.high, b.low, b.close, 1.0) for b in wild]
    state = market_state(calm_then_wild + shifted[1:], window=20)
    assert state is not None
    assert state.vol_regime == "EXTREME_VOL"


def test_a_gap_in_the_recording_does_not_change_the_scale() -> None:
    bars = zigzag(0.01)
    gapped = [
        *bars[:30],
        *(Bar("X", b.ts + 2 * DAY, b.open, b.high, b.low, b.close, 1) for b in bars[30:]),
    ]
    assert market_state(gapped) == market_state(bars)


def test_too_few_returns_is_no_state() -> None:
    assert market_state(zigzag(0.01, n=20)) is None
    assert market_state(zigzag(0.01, n=21)) is not None
    assert market_state([]) is None


@pytest.mark.parametrize(
    "sigma", [0.0, 0.0049, 0.005, 0.0051, 0.01, 0.02, 0.0201, 0.03, 0.0301, 0.5]
)
def test_labels_agree_with_the_governors_reading_of_sigma(sigma: float) -> None:
    assert VOL_LEVELS[regime(sigma)] == vol_level(MarketState(vol_regime=None, sigma=sigma))


def test_labels_are_the_governors() -> None:
    labels = {regime(s) for s in np.linspace(0, 0.1, 101).tolist()}
    assert labels == set(VOL_REGIMES)
