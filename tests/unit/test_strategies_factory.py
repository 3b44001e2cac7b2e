"""build(): names, parameter validation with errors naming the field; shared contracts."""

from __future__ import annotations

import typing

import numpy as np
import pytest
from tests.unit.strategies_data import bars

from tradingstack_workers.bots.marketdata import Bar
from tradingstack_workers.bots.settings import BotSettings
from tradingstack_workers.bots.strategies import (
    STRATEGIES,
    BollingerBounce,
    BreakoutMomentum,
    ParamsError,
    RsiMeanReversion,
    build,
)
from tradingstack_workers.bots.strategies.indicators import (
    prior_max,
    prior_min,
    rolling_mean_std,
    wilder_rsi,
)
from tradingstack_workers.bots.strategies.params import PARAMS


def test_every_strategy_the_settings_accept_can_be_built_with_defaults() -> None:
    accepted = set(typing.get_args(BotSettings.model_fields["strategy"].annotation))
    assert set(STRATEGIES) == accepted
    assert {name: cls.Params for name, cls in STRATEGIES.items()} == PARAMS
    for name in accepted:
        strategy = build(name, {})
        assert strategy.name == name
        assert strategy.min_bars <= strategy.history_bars


def test_defaults_and_whole_number_floats() -> None:
    strategy = build("rsi_mean_reversion", {"period": 21.0, "oversold": 25})
    assert isinstance(strategy, RsiMeanReversion)
    assert (strategy.params.period, strategy.params.oversold, strategy.params.overbought) == (
        21,
        25.0,
        70.0,
    )
    assert isinstance(build("bollinger_bounce", {}), BollingerBounce)
    assert isinstance(build("breakout_momentum", {"lookback": 55}), BreakoutMomentum)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("bollinger_bounce", {"period": 1}, "params.period: must be >= 2 (got 1)"),
        ("bollinger_bounce", {"period": 14.5}, "params.period: must be a whole number (got 14.5)"),
        ("bollinger_bounce", {"k": 0}, "params.k: must be > 0 (got 0)"),
        ("bollinger_bounce", {"k": float("nan")}, "params.k: must be a finite number"),
        ("rsi_mean_reversion", {"oversold": 50}, "params.oversold: must be < 50 (got 50)"),
        ("rsi_mean_reversion", {"overbought": 100}, "params.overbought: must be < 100 (got 100)"),
        ("rsi_mean_reversion", {"overbought": 40}, "params.overbought: must be > 50 (got 40)"),
        ("breakout_momentum", {"lookback": 0}, "params.lookback: must be >= 2 (got 0)"),
        (
            "breakout_momentum",
            {"lookback": 10, "exit_lookback": 12},
            "params.exit_lookback: must be <= lookback",
        ),
    ],
)
def test_invalid_parameters_name_the_field(
    name: str, params: dict[str, float], message: str
) -> None:
    with pytest.raises(ParamsError) as caught:
        build(name, params)
    assert message in str(caught.value)


def test_every_bad_parameter_is_reported_at_once() -> None:
    with pytest.raises(ParamsError) as caught:
        build("bollinger_bounce", {"period": 1, "k": -1})
    assert (
        str(caught.value) == "params.period: must be >= 2 (got 1); params.k: must be > 0 (got -1)"
    )


def test_unknown_parameter_names_are_refused_with_the_allowed_ones() -> None:
    with pytest.raises(ParamsError) as caught:
        build("bollinger_bounce", {"perod": 20, "k": 2})
    assert str(caught.value) == (
        "params.perod: unknown parameter for bollinger_bounce; expected one of k, period"
    )


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ParamsError, match=r"strategy: 'macd' is not one of bollinger_bounce"):
        build("macd", {})


def test_params_are_frozen() -> None:
    strategy = build("bollinger_bounce", {})
    assert isinstance(strategy, BollingerBounce)
    with pytest.raises(ValueError, match="frozen"):
        strategy.params.period = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "indicator",
    [
        lambda x: rolling_mean_std(x, 5)[0],
        lambda x: rolling_mean_std(x, 5)[1],
        lambda x: prior_max(x, 5),
        lambda x: prior_min(x, 5),
        lambda x: wilder_rsi(x, 5),
    ],
    ids=["mean", "std", "prior_max", "prior_min", "rsi"],
)
def test_indicators_never_look_ahead(indicator: typing.Callable[[np.ndarray], np.ndarray]) -> None:
    """Value t of the whole series equals the last value computed from bars up to t."""
    x = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.02, 60)))
    whole = indicator(x)
    for t in range(len(x)):
        np.testing.assert_array_equal(indicator(x[: t + 1]), whole[: t + 1])


def test_future_bars_never_change_a_past_signal() -> None:
    rng = np.random.default_rng(5)
    series = bars((100 * np.exp(np.cumsum(rng.normal(0, 0.02, 300)))).tolist())
    for name in STRATEGIES:
        strategy = build(name, {})
        fired = 0
        for t in range(len(series)):
            before = strategy.on_bars(series[: t + 1])
            fired += before is not None
            assert before == strategy.on_bars(series[: t + 1]), "not a pure function"
        assert fired > 0, f"{name} never fired on a 300-bar random walk"


def test_history_that_mixes_symbols_or_runs_backwards_is_a_caller_bug() -> None:
    strategy = build("bollinger_bounce", {"period": 2})
    good = bars([100.0, 101.0, 102.0])
    other = Bar("OTHER", 240.0, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="mixes symbols"):
        strategy.on_bars([*good, other])
    with pytest.raises(ValueError, match="strictly increasing"):
        strategy.on_bars([good[1], good[0], good[2]])
