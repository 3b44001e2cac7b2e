"""Each bot's strategy parameters at admission: the bot's own definition, as CEL and Python.

The strategies' parameter models (``tradingstack_workers.bots.strategies``) are the one
definition of every parameter: name, whole or not, bounds, and relations between
parameters. From them come, side by side, the CEL rules the CRD carries on each item
of ``spec.bots`` (so the API server refuses a bad parameter before it is stored) and
the checks the spec model runs (so ``render``, ``up`` and the operator refuse the same
specs with the same words). A bot therefore never meets at start a parameter the
spec let through: it would exit and restart for ever.

Each rule reports at ``spec.bots[i].params`` (its ``fieldPath``) with a message that
starts with the parameter's name: ``period: must be a whole number >= 2 and <= 10000``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import JsonValue

from tradingstack_workers.bots.strategies.params import (
    PARAMS,
    Range,
    Relation,
    StrategyParams,
    ranges,
)

Params = Mapping[str, float]


@dataclass(frozen=True)
class ParamRule:
    """One rule over one bot's ``strategy`` and ``params``, in Python and in CEL."""

    #: The name of the parameter at fault and the message, or None when the rule holds.
    check: Callable[[str, Params], tuple[str, str] | None]
    cel: str  # true when the bot is valid; ``self`` is the bot
    message: str  # CEL messageExpression, building exactly what ``check`` says
    summary: str  # static message, if the messageExpression cannot be evaluated

    def schema(self) -> dict[str, JsonValue]:
        return {
            "rule": self.cel,
            "messageExpression": self.message,
            "message": self.summary,
            "fieldPath": ".params",
        }


def _cel_number(value: float) -> str:
    return repr(float(value))


def _value(name: str) -> str:
    # The API server types a `number` as a double; double() keeps an int literal honest too.
    return f"double(self.params['{name}'])"


def _unknown(strategy: str, model: type[StrategyParams]) -> ParamRule:
    allowed = sorted(model.model_fields)
    listed = ", ".join(f"'{a}'" for a in allowed)
    text = f"unknown parameter of {strategy}; expected one of {', '.join(allowed)}"

    def check(name: str, params: Params) -> tuple[str, str] | None:
        unknown = sorted(set(params) - set(allowed)) if name == strategy else []
        return (unknown[0], text) if unknown else None

    return ParamRule(
        check=check,
        cel=f"self.strategy != '{strategy}' || self.params.all(k, k in [{listed}])",
        message=f"self.params.filter(k, !(k in [{listed}]))[0] + ': {text}'",
        summary=f"params: {text}",
    )


def _range(strategy: str, r: Range) -> ParamRule:
    value = _value(r.name)
    conditions = []
    if r.lower is not None:
        conditions.append(f"{value} {'>=' if r.lower_inclusive else '>'} {_cel_number(r.lower)}")
    if r.upper is not None:
        conditions.append(f"{value} {'<=' if r.upper_inclusive else '<'} {_cel_number(r.upper)}")
    if r.whole:  # last: int() of a double is only safe once the bounds hold
        conditions.append(f"double(int({value})) == {value}")
    text = f"{r.name}: {r.problem}"

    def check(name: str, params: Params) -> tuple[str, str] | None:
        if name != strategy or r.name not in params or r.admits(float(params[r.name])):
            return None
        return r.name, r.problem

    return ParamRule(
        check=check,
        cel=f"self.strategy != '{strategy}' || !('{r.name}' in self.params)"
        f" || ({' && '.join(conditions)})",
        message=f"'{text}'",
        summary=f"params.{text}",
    )


def _relation(strategy: str, relation: Relation, defaults: Mapping[str, float | None]) -> ParamRule:
    def side(name: str) -> str:
        default = defaults[name]
        if default is None:
            return _value(name)
        return f"(('{name}' in self.params) ? {_value(name)} : {_cel_number(default)})"

    needed = [n for n in (relation.left, relation.right) if defaults[n] is None]
    present = "".join(f"!('{n}' in self.params) || " for n in needed)
    text = f"{relation.left}: {relation.problem}"

    def check(name: str, params: Params) -> tuple[str, str] | None:
        if name != strategy or any(n not in params for n in needed):
            return None
        left, right = (
            float(params.get(n, defaults[n] or 0.0)) for n in (relation.left, relation.right)
        )
        holds = left < right if relation.op == "<" else left <= right
        return None if holds else (relation.left, relation.problem)

    return ParamRule(
        check=check,
        cel=f"self.strategy != '{strategy}' || {present}"
        f"{side(relation.left)} {relation.op} {side(relation.right)}",
        message=f"'{text}'",
        summary=f"params.{text}",
    )


def _rules() -> tuple[ParamRule, ...]:
    out: list[ParamRule] = []
    for strategy, model in PARAMS.items():
        found = ranges(model)
        defaults = {r.name: r.default for r in found}
        out.append(_unknown(strategy, model))
        out += [_range(strategy, r) for r in found]
        out += [_relation(strategy, rel, defaults) for rel in model.RELATIONS]
    return tuple(out)


#: Every parameter rule of every strategy, in a stable order (the CRD lists them so).
PARAM_RULES = _rules()


def param_problems(strategy: str, params: Params) -> list[tuple[str, str]]:
    """(parameter, problem) for every rule ``params`` breaks, as the API server reports."""
    return [found for rule in PARAM_RULES if (found := rule.check(strategy, params)) is not None]
