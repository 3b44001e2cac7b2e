"""The minimum sample: its formula, its default, and how the settings carry it."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from tradingstack_workers.clusters.sample import (
    ALPHA,
    FLOOR_RETURNS,
    POWER,
    min_points,
    min_returns,
)
from tradingstack_workers.clusters.settings import ClustersSettings
from tradingstack_workers.runtime.settings import SettingsError, load_settings


def power_at(threshold: float, returns: int) -> float:
    """Power of the two-sided Fisher-z test against zero when the truth is ``threshold``."""
    normal = NormalDist()
    shift = math.atanh(threshold) * math.sqrt(returns - 3)
    return 1 - normal.cdf(normal.inv_cdf(1 - ALPHA / 2) - shift)


def test_default_threshold_needs_twenty_points() -> None:
    assert min_points(0.70) == 20


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.6, 0.7, 0.8, 0.85])
def test_the_minimum_is_the_smallest_sample_with_the_stated_power(threshold: float) -> None:
    n = min_returns(threshold)
    assert power_at(threshold, n) >= POWER
    if n > FLOOR_RETURNS:
        assert power_at(threshold, n - 1) < POWER


def test_lower_thresholds_need_more_points_and_the_floor_holds() -> None:
    needed = [min_points(t) for t in (0.3, 0.5, 0.7, 0.9, 1.0)]
    assert needed == sorted(needed, reverse=True)
    assert min_points(1.0) == FLOOR_RETURNS + 1


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.5])
def test_a_threshold_outside_the_unit_interval_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        min_returns(threshold)


def test_settings_derive_the_minimum_and_cap_it_at_the_lookback() -> None:
    assert load_settings(ClustersSettings, {}).required_points == 20
    short = load_settings(ClustersSettings, {"TS_LOOKBACK_POINTS": "11"})
    assert (short.required_points, short.min_points_capped) == (11, True)
    explicit = load_settings(ClustersSettings, {"TS_MIN_POINTS": "60"})
    assert (explicit.required_points, explicit.min_points_capped) == (60, False)


def test_an_explicit_minimum_above_the_lookback_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="TS_MIN_POINTS: 400 is more than TS_LOOKBACK_POINTS"):
        load_settings(ClustersSettings, {"TS_MIN_POINTS": "400"})
