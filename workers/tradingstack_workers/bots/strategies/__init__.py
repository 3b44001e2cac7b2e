"""Trading strategies behind one interface: bars in, at most one :class:`Signal` out.

Made from a bot's settings with :func:`build`; each module's docstring states its
exact rules. The strategies (and numpy) load on first use of their names here: the
parameters (:mod:`.params`) are read without them, by the operator among others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...runtime.lazy import lazy_attributes

if TYPE_CHECKING:
    from .base import Side, Signal, Strategy
    from .bollinger import BollingerBounce
    from .breakout import BreakoutMomentum
    from .factory import STRATEGIES, build
    from .params import BollingerParams, BreakoutParams, ParamsError, RsiParams
    from .rsi import RsiMeanReversion

_HOME = {
    "STRATEGIES": ".factory",
    "BollingerBounce": ".bollinger",
    "BollingerParams": ".params",
    "BreakoutMomentum": ".breakout",
    "BreakoutParams": ".params",
    "ParamsError": ".params",
    "RsiMeanReversion": ".rsi",
    "RsiParams": ".params",
    "Side": ".base",
    "Signal": ".base",
    "Strategy": ".base",
    "build": ".factory",
}

__all__ = [
    "STRATEGIES",
    "BollingerBounce",
    "BollingerParams",
    "BreakoutMomentum",
    "BreakoutParams",
    "ParamsError",
    "RsiMeanReversion",
    "RsiParams",
    "Side",
    "Signal",
    "Strategy",
    "build",
]

__getattr__ = lazy_attributes(__name__, _HOME)
