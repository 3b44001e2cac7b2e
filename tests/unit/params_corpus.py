"""A spec corpus of bad strategy parameters, generated from the strategies' own definitions.

For every parameter of every strategy: a value just past each bound, a fraction where a
whole number is needed, a misspelt name, and a pair breaking each relation. Each case
is a whole TradingStack manifest with one bot and the field it must be refused for;
the unit tier admits it through the emulated CRD, the control-plane tier through a
real kube-apiserver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradingstack_operator.spec import API_VERSION, KIND
from tradingstack_workers.bots.strategies import STRATEGIES
from tradingstack_workers.bots.strategies.params import ranges


@dataclass(frozen=True)
class ParamCase:
    name: str
    strategy: str
    params: dict[str, float]
    #: The parameter the refusal must name (``spec.bots[0].params.<field>``).
    field: str

    def manifest(self) -> dict[str, Any]:
        bot = {"name": "alpha", "strategy": self.strategy, "symbols": ["BTCUSDT"],
               "params": self.params}  # fmt: skip
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name[:40].rstrip("-")},
            "spec": {"symbols": ["BTCUSDT"], "redis": {"replicas": 1}, "bots": [bot]},
        }

    @property
    def path(self) -> str:
        return f"spec.bots[0].params.{self.field}"


def _slug(*parts: object) -> str:
    return "-".join(str(p) for p in parts).replace("_", "-").replace(".", "p").lower()


def param_cases() -> list[ParamCase]:
    cases = []
    for strategy, cls in STRATEGIES.items():
        model = cls.Params
        short = strategy.split("_")[0]
        for r in ranges(model):
            bad: list[tuple[str, float]] = []
            if r.lower is not None:
                bad.append(("low", r.lower if not r.lower_inclusive else r.lower - 1))
            if r.upper is not None:
                bad.append(("high", r.upper if not r.upper_inclusive else r.upper + 1))
            if r.whole:
                bad.append(("fraction", (r.lower or 0) + 2.5))
            for what, value in bad:
                cases.append(
                    ParamCase(_slug(short, r.name, what), strategy, {r.name: value}, r.name)
                )
        first = sorted(model.model_fields)[0]
        typo = first[:-1] + first[-1] * 2
        cases.append(ParamCase(_slug(short, "typo", typo), strategy, {typo: 1.0}, typo))
        for relation in model.RELATIONS:
            found = {r.name: r for r in ranges(model)}
            left, right = found[relation.left], found[relation.right]
            # Each inside its own range, together breaking the relation.
            low = left.lower if left.lower is not None else 0.0
            high = right.upper if right.upper is not None else low + 100
            pair = _relation_breaker(low, high, left.whole, right.whole, relation.op)
            if pair is not None:
                params = {relation.left: pair[0], relation.right: pair[1]}
                name = _slug(short, relation.left, "vs", relation.right)
                cases.append(ParamCase(name, strategy, params, relation.left))
    return cases


def _relation_breaker(
    low: float, high: float, left_whole: bool, right_whole: bool, op: str
) -> tuple[float, float] | None:
    """Values inside ``[low, high]`` with left >= right (for <) or left > right (for <=)."""
    right = float(int(low) + 2) if right_whole else low + 1.0
    left = right + (1.0 if op == "<=" else 0.0)
    if left_whole and left != int(left):
        left = float(int(left) + 1)
    return (left, right) if left <= high else None
