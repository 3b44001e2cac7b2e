"""Strategy parameters: frozen pydantic models, errors that name ``params.<field>``.

Each strategy's parameter model is the one definition of its parameters: names,
types, ranges (the fields' bounds) and relations between them (:data:`RELATIONS`).
The bot validates ``TS_PARAMS`` with it; :func:`ranges` and the relations are what
the operator turns into the TradingStack CRD's CEL rules and the spec model's checks,
so the API server refuses first whatever the bot would refuse at start.

Parameters arrive from ``TS_PARAMS`` as a JSON object of numbers, so whole-number
parameters (periods) come as floats: ``14.0`` is accepted, ``14.5`` is refused.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, get_args

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

#: A period or lookback longer than this would need more bars than a bot keeps in memory.
MAX_WINDOW = 10_000

Comparison = Literal["<", "<="]
_COMPARE: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le}


class ParamsError(ValueError):
    """Bad strategy name or parameters; the message names the parameter and the fix."""


@dataclass(frozen=True)
class Relation:
    """``left <op> right`` between two parameters (either one at its default when absent)."""

    left: str
    op: Comparison
    right: str

    @property
    def problem(self) -> str:
        return f"must be {self.op} {self.right}"


class StrategyParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Relations between this strategy's parameters, checked after each field's own range.
    RELATIONS: ClassVar[tuple[Relation, ...]] = ()

    @model_validator(mode="after")
    def _relations(self) -> Self:
        for relation in self.RELATIONS:
            left, right = getattr(self, relation.left), getattr(self, relation.right)
            if left is not None and right is not None and not _COMPARE[relation.op](left, right):
                raise PydanticCustomError("relation", relation.problem, {"field": relation.left})
        return self


@dataclass(frozen=True)
class Range:
    """What one parameter may be: whole or not, and its bounds (with their inclusivity)."""

    name: str
    whole: bool
    lower: float | None = None
    lower_inclusive: bool = True
    upper: float | None = None
    upper_inclusive: bool = True
    #: The value used when the parameter is absent (None: the strategy derives one).
    default: float | None = None

    @property
    def problem(self) -> str:
        """What the parameter must be, as one phrase: ``must be a whole number >= 2``."""
        parts = []
        if self.lower is not None:
            parts.append(f"{'>=' if self.lower_inclusive else '>'} {self.lower:g}")
        if self.upper is not None:
            parts.append(f"{'<=' if self.upper_inclusive else '<'} {self.upper:g}")
        kind = "a whole number" if self.whole else "a number"
        return f"must be {kind} {' and '.join(parts)}".rstrip()

    def admits(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.whole and value != int(value):
            return False
        if self.lower is not None and not (
            value >= self.lower if self.lower_inclusive else value > self.lower
        ):
            return False
        return self.upper is None or (
            value <= self.upper if self.upper_inclusive else value < self.upper
        )


def ranges(model: type[StrategyParams]) -> tuple[Range, ...]:
    """Each parameter's range, read from the model's own field declarations.

    TypeError for a rule this cannot carry to the CRD (a validator of its own, a
    constraint other than bounds): the spec would let through what the bot refuses.
    """
    decorators = model.__pydantic_decorators__
    hidden = {*decorators.field_validators, *decorators.model_validators} - {"_relations"}
    if hidden:
        raise TypeError(f"{model.__name__}: validators {sorted(hidden)} have no CRD rule")
    out = []
    for name, info in model.model_fields.items():
        kinds = {a for a in get_args(info.annotation) or (info.annotation,) if a is not type(None)}
        bounds: dict[str, Any] = {}
        for item in info.metadata:
            if isinstance(item, annotated_types.Ge):
                bounds |= {"lower": float(item.ge), "lower_inclusive": True}  # type: ignore[arg-type]
            elif isinstance(item, annotated_types.Gt):
                bounds |= {"lower": float(item.gt), "lower_inclusive": False}  # type: ignore[arg-type]
            elif isinstance(item, annotated_types.Le):
                bounds |= {"upper": float(item.le), "upper_inclusive": True}  # type: ignore[arg-type]
            elif isinstance(item, annotated_types.Lt):
                bounds |= {"upper": float(item.lt), "upper_inclusive": False}  # type: ignore[arg-type]
            elif type(item).__name__ != "AllowInfNan":  # finite is implied: JSON has no NaN
                # A constraint the CRD's rules would not carry: the spec would let through
                # what the bot refuses. Express it as bounds or a Relation instead.
                raise TypeError(f"{model.__name__}.{name}: unsupported constraint {item!r}")
        default = info.default if isinstance(info.default, int | float) else None
        out.append(Range(name, whole=kinds == {int}, default=default, **bounds))
    return tuple(out)


_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}
_WHOLE = {"int_from_float", "int_parsing", "int_type"}


def _phrase(item: ErrorDetails) -> str:
    kind, ctx = item["type"], item.get("ctx") or {}
    if kind in _BOUNDS:
        key, op = _BOUNDS[kind]
        bound = ctx[key]
        text = (
            f"must be {op} {bound:g}" if isinstance(bound, int | float) else f"must be {op} {bound}"
        )
    elif kind in _WHOLE:
        text = "must be a whole number"
    elif kind == "finite_number":
        text = "must be a finite number"
    elif kind in {"float_parsing", "float_type"}:
        text = "must be a number"
    else:
        text = item["msg"].removeprefix("Value error, ")
    given: Any = item.get("input")
    return f"{text} (got {given!r})" if isinstance(given, int | float) else text


def describe(error: ValidationError) -> str:
    """Every problem as ``params.<field>: <what it must be> (got <value>)``, joined by ``; ``."""
    parts = []
    for item in error.errors():
        loc = item["loc"] or (str((item.get("ctx") or {}).get("field", "")),)
        where = ".".join(str(p) for p in ("params", *loc) if p != "")
        parts.append(f"{where}: {_phrase(item)}")
    return "; ".join(parts)


class BollingerParams(StrategyParams):
    period: int = Field(default=20, ge=2, le=MAX_WINDOW)
    k: float = Field(default=2.0, gt=0, le=10, allow_inf_nan=False)


class BreakoutParams(StrategyParams):
    RELATIONS = (Relation("exit_lookback", "<=", "lookback"),)

    lookback: int = Field(default=20, ge=2, le=MAX_WINDOW)
    exit_lookback: int | None = Field(default=None, ge=1, le=MAX_WINDOW)

    @property
    def exit_window(self) -> int:
        return self.exit_lookback if self.exit_lookback is not None else max(1, self.lookback // 2)


#: RSI's midline, between the oversold and overbought zones.
NEUTRAL = 50.0


class RsiParams(StrategyParams):
    RELATIONS = (Relation("oversold", "<", "overbought"),)

    period: int = Field(default=14, ge=2, le=MAX_WINDOW)
    oversold: float = Field(default=30.0, gt=0, lt=NEUTRAL, allow_inf_nan=False)
    overbought: float = Field(default=70.0, gt=NEUTRAL, lt=100, allow_inf_nan=False)


#: Each strategy's parameter model by the strategy's name (``factory.STRATEGIES`` has the
#: strategies themselves; a test keeps the two in step). Apart from the strategies, so
#: that what only checks parameters (the operator, a bot's settings) never loads numpy.
PARAMS: Mapping[str, type[StrategyParams]] = {
    "bollinger_bounce": BollingerParams,
    "rsi_mean_reversion": RsiParams,
    "breakout_momentum": BreakoutParams,
}


def validated(strategy_name: str, params: Mapping[str, float]) -> StrategyParams:
    """The named strategy's parameters, validated (defaults for those not given).

    Unknown names are refused rather than ignored: a typo such as ``perod`` would
    otherwise trade silently with the default.
    """
    model = PARAMS.get(strategy_name)
    if model is None:
        raise ParamsError(f"strategy: {strategy_name!r} is not one of {', '.join(PARAMS)}")
    allowed = sorted(model.model_fields)
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
        return model.model_validate(dict(params))
    except ValidationError as exc:
        raise ParamsError(describe(exc)) from None
