"""The TradingStack resource: spec and status models, the source the CRD is generated from."""

from .errors import SpecError, SpecProblem
from .rules import RULES, Rule
from .stack import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    TradingStackSpec,
    parse_spec,
)
from .status import ComponentStatus, Condition, TradingStackStatus

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "RULES",
    "SHORT_NAMES",
    "SINGULAR",
    "VERSION",
    "ComponentStatus",
    "Condition",
    "Rule",
    "SpecError",
    "SpecProblem",
    "TradingStackSpec",
    "TradingStackStatus",
    "parse_spec",
]
