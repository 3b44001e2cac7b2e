"""Trading strategies behind one interface: bars in, at most one :class:`Signal` out.

Made from a bot's settings with :func:`build`; each module's docstring states its
exact rules.
"""

from .base import Side, Signal, Strategy
from .bollinger import BollingerBounce, BollingerParams
from .breakout import BreakoutMomentum, BreakoutParams
from .factory import STRATEGIES, build
from .params import ParamsError
from .rsi import RsiMeanReversion, RsiParams

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
