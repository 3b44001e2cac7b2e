"""``build(name, params)``: the one place a strategy is made from a bot's settings."""

from __future__ import annotations

from collections.abc import Mapping

from .base import Strategy
from .bollinger import BollingerBounce
from .breakout import BreakoutMomentum
from .params import validated
from .rsi import RsiMeanReversion

#: Keyed by the names ``BotSettings.strategy`` accepts (a test keeps the two in step, and
#: these with ``params.PARAMS``).
STRATEGIES: Mapping[str, type[BollingerBounce] | type[RsiMeanReversion] | type[BreakoutMomentum]]
STRATEGIES = {cls.name: cls for cls in (BollingerBounce, RsiMeanReversion, BreakoutMomentum)}


def build(strategy_name: str, params: Mapping[str, float]) -> Strategy:
    """The named strategy with validated parameters (:func:`.params.validated`)."""
    validated(strategy_name, params)  # names the bad parameter, as a bot's settings do
    return STRATEGIES[strategy_name].from_params(params)
