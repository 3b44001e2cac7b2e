"""``build(name, params)``: the one place a strategy is made from a bot's settings."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from .base import Strategy
from .bollinger import BollingerBounce
from .breakout import BreakoutMomentum
from .params import ParamsError, describe
from .rsi import RsiMeanReversion

#: Keyed by the names ``BotSettings.strategy`` accepts (a test keeps the two in step).
STRATEGIES: Mapping[str, type[BollingerBounce] | type[RsiMeanReversion] | type[BreakoutMomentum]]
STRATEGIES = {cls.name: cls for cls in (BollingerBounce, RsiMeanReversion, BreakoutMomentum)}


def build(strategy_name: str, params: Mapping[str, float]) -> Strategy:
    """The named strategy with validated parameters (defaults for those not given).

    Unknown names are refused rather than ignored: a typo such as ``perod`` would
    otherwise trade silently with the default.
    """
    cls = STRATEGIES.get(strategy_name)
    if cls is None:
        raise ParamsError(f"strategy: {strategy_name!r} is not one of {', '.join(STRATEGIES)}")
    allowed = sorted(cls.Params.model_fields)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ParamsError(
            "; ".join(
                f"params.{name}: unknown parameter for {strategy_name}; "
                f"expected one of {', '.join(allowed)}"
                for name in unknown
            )
        )
    try:
        return cls.from_params(params)
    except ValidationError as exc:
        raise ParamsError(describe(exc)) from None
