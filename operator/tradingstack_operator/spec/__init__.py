"""The TradingStack resource: spec and status models, the source the CRD is generated from."""

from .errors import SpecError, SpecProblem
from .rules import RULES, TRANSITION_RULES, Rule, TransitionRule, transition_problems
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
    "TRANSITION_RULES",
    "VERSION",
    "ComponentStatus",
    "Condition",
    "Rule",
    "SpecError",
    "SpecProblem",
    "TradingStackSpec",
    "TradingStackStatus",
    "TransitionRule",
    "parse_spec",
    "transition_problems",
]
