"""The budget formula: bounds, monotonicity in every stress input, the vol regime scale."""

from __future__ import annotations

import itertools
import random

import pytest

from tradingstack_workers.governor import budget as f
from tradingstack_workers.governor.inputs import MarketState

GRID = [-0.5, 0.0, 0.1, 0.33, 0.5, 0.67, 0.9, 1.0, 1.5]
DRAWDOWNS = [-30.0, -5.0, 0.0, 2.0, 10.0, 19.9, 20.0, 35.0, 150.0]


def budget(dd: float, heat: float, cluster: float, vol: float, equity: float = 50_000) -> float:
    stress = f.stress_factor(
        drawdown_pct=dd, max_drawdown_pct=20.0, heat=heat, cluster_stress=cluster, vol=vol
    )
    return f.budget_usd(equity, 2.0, stress)


def test_calm_inputs_give_the_full_base_budget() -> None:
    assert budget(0, 0, 0, 0) == pytest.approx(1_000.0)


def test_seed_weights_without_drawdown() -> None:
    assert f.stress_factor(
        drawdown_pct=0, max_drawdown_pct=20, heat=1, cluster_stress=0, vol=0
    ) == pytest.approx(0.4)
    assert f.stress_factor(
        drawdown_pct=0, max_drawdown_pct=20, heat=0, cluster_stress=0, vol=1
    ) == pytest.approx(0.2)


def test_drawdown_scales_the_cushion_linearly_to_zero_at_the_limit() -> None:
    assert budget(10, 0, 0, 0) == pytest.approx(500.0)
    assert budget(-10, 0, 0, 0) == pytest.approx(500.0)  # either sign means below peak
    assert budget(20, 0, 0, 0) == 0.0
    assert budget(80, 0, 0, 0) == 0.0


def test_drawdown_and_market_stress_compound() -> None:
    # keep (1 - 0.5) of the cushion and (1 - 0.4) for full heat: 1000 * 0.5 * 0.6
    assert budget(10, 1, 0, 0) == pytest.approx(300.0)


def test_bounds_over_the_whole_grid() -> None:
    for dd, h, c, v in itertools.product(DRAWDOWNS, GRID, GRID, GRID):
        s = f.stress_factor(drawdown_pct=dd, max_drawdown_pct=20.0, heat=h, cluster_stress=c, vol=v)
        assert 0.0 <= s <= 1.0
        assert 0.0 <= budget(dd, h, c, v) <= 1_000.0 + 1e-9


def test_budget_never_negative_even_for_nonsense_equity_or_stress() -> None:
    assert f.budget_usd(-5_000, 2.0, 0.1) == 0.0
    assert f.budget_usd(5_000, 2.0, 1.7) == 0.0
    assert f.budget_usd(5_000, 2.0, -0.5) == pytest.approx(100.0)


@pytest.mark.parametrize("position", range(4))
def test_monotone_non_increasing_in_each_stress_input(position: int) -> None:
    """Raise one input, hold the rest: the budget never grows (grid plus random points)."""
    rng = random.Random(2808 + position)
    axes = [[abs(d) for d in DRAWDOWNS], GRID, GRID, GRID]
    points = list(itertools.product(*(axis[::2] for axis in axes)))
    points += [
        (rng.uniform(0, 40), rng.uniform(-0.2, 1.2), rng.uniform(-0.2, 1.2), rng.uniform(0, 1))
        for _ in range(2_000)
    ]
    for point in points:
        low = list(point)
        high = list(point)
        high[position] += rng.uniform(0.0, 0.6) * (40 if position == 0 else 1)
        assert budget(*high) <= budget(*low) + 1e-9, (position, low, high)


def test_monotone_in_drawdown_magnitude_for_negative_convention() -> None:
    values = [budget(-x, 0.2, 0.3, 0.33) for x in (0, 1, 5, 12, 19, 20, 25)]
    assert values == sorted(values, reverse=True)


def test_budget_grows_with_equity_and_base_risk() -> None:
    s = f.stress_factor(drawdown_pct=3, max_drawdown_pct=20, heat=0.2, cluster_stress=0.1, vol=0.33)
    assert f.budget_usd(20_000, 2.0, s) == pytest.approx(2 * f.budget_usd(10_000, 2.0, s))
    assert f.budget_usd(10_000, 3.0, s) == pytest.approx(1.5 * f.budget_usd(10_000, 2.0, s))


@pytest.mark.parametrize(
    ("regime", "level"),
    [("LOW_VOL", 0.0), ("NORMAL_VOL", 0.33), ("HIGH_VOL", 0.67), ("EXTREME_VOL", 1.0)],
)
def test_vol_regime_labels(regime: str, level: float) -> None:
    assert f.vol_level(MarketState(regime, None)) == level
    assert f.vol_level(MarketState(regime, 0.5)) == level  # the label outranks sigma


@pytest.mark.parametrize(
    ("sigma", "level"),
    [(0.0, 0.0), (0.0049, 0.0), (0.005, 0.33), (0.02, 0.33), (0.0201, 0.67), (0.03, 0.67),
     (0.031, 1.0), (2.0, 1.0)],
)  # fmt: skip
def test_sigma_is_the_backup(sigma: float, level: float) -> None:
    assert f.vol_level(MarketState(None, sigma)) == level


def test_no_market_state_has_no_level_and_the_fallback_is_normal() -> None:
    assert f.vol_level(None) is None
    assert f.vol_level(MarketState(None, None)) is None
    assert f.VOL_FALLBACK == 0.33


def test_vol_levels_are_ordered_and_in_unit_interval() -> None:
    levels = [f.VOL_LEVELS[r] for r in ("LOW_VOL", "NORMAL_VOL", "HIGH_VOL", "EXTREME_VOL")]
    assert levels == sorted(levels)
    assert all(0.0 <= x <= 1.0 for x in levels)
