"""A spec corpus of bad tunables, generated from the spec models' own declarations.

Every bounded number of the TradingStack spec (each worker's and bot's tunables, Redis
and Sentinel timings, replicas): the values just past each bound, an integer just past
a fractional bound (the API server compares an integer against a fractional minimum
truncated: 0 passed ``minimum: 0.1``), a fraction where a whole number is needed; every
choice (an unknown word) and every switch (a string). Each case is a whole manifest
with that one field broken and the rest valid; the unit tier refuses it through the
model, the control-plane tier through a real kube-apiserver, both naming the field.
"""

from __future__ import annotations

import inspect
import math
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tradingstack_operator.spec import API_VERSION, KIND
from tradingstack_operator.spec.base import LocalObjectReference
from tradingstack_operator.spec.bots import ExchangeSpec
from tradingstack_operator.spec.stack import TradingStackSpec

#: The one bot every case carries, so ``spec.bots[0]`` has something to break.
BOT = {"name": "alpha", "strategy": "breakout_momentum", "symbols": ["BTCUSDT"]}
#: Valid values of the required fields of an optional object (a bot's exchange needs its
#: id): a case breaking one field inside it carries them, or the model and the server
#: would refuse the missing field instead of the broken one.
REQUIRED: dict[type[BaseModel], dict[str, Any]] = {
    ExchangeSpec: {"id": "binance"},
    LocalObjectReference: {"name": "trading-key"},
}


@dataclass(frozen=True)
class TunableCase:
    name: str
    #: Where the value goes: keys and list indexes below ``spec``.
    where: tuple[str | int, ...]
    value: Any
    #: The required fields of the optional objects on the way, by where each object goes.
    beside: dict[tuple[str | int, ...], dict[str, Any]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The field as the API server and the model name it (``spec.bots[0].replicas``)."""
        text = "spec"
        for part in self.where:
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
        return text

    def manifest(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"symbols": ["BTCUSDT"], "bots": [dict(BOT)]}
        node: Any = spec
        for i, (part, child) in enumerate(zip(self.where, self.where[1:], strict=False)):
            if isinstance(part, int):
                node = node[part]
            else:
                empty = (
                    [] if isinstance(child, int) else dict(self.beside.get(self.where[: i + 1], {}))
                )
                node = node.setdefault(part, empty)
        node[self.where[-1]] = self.value
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name},
            "spec": spec,
        }


def _plain(annotation: Any) -> Any:
    """``X`` of ``X | None``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if inspect.isclass(annotation) and issubclass(annotation, BaseModel) else None


Beside = dict[tuple[str | int, ...], dict[str, Any]]


def _required(model: type[BaseModel]) -> dict[str, Any]:
    """Valid values of ``model``'s required fields (none: {}); KeyError names a model
    whose required fields :data:`REQUIRED` lacks."""
    if not any(info.is_required() for info in model.model_fields.values()):
        return {}
    if model not in REQUIRED:
        raise KeyError(f"tunables corpus: add {model.__name__}'s required fields to REQUIRED")
    return REQUIRED[model]


def _fields(
    model: type[BaseModel], where: tuple[str | int, ...] = (), beside: Beside | None = None
) -> Iterator[tuple[tuple[str | int, ...], FieldInfo, Any, Beside]]:
    """Every leaf field below ``model``: (where, its declaration, its plain type, the
    required fields of the optional objects on the way)."""
    beside = beside or {}
    for name, info in model.model_fields.items():
        here = (*where, info.alias or name)
        kind = _plain(info.annotation)
        nested = _model(kind)
        if nested is not None:
            required = _required(nested)
            yield from _fields(nested, here, {**beside, here: required} if required else beside)
        elif get_origin(kind) is list and _model(get_args(kind)[0]) is not None:
            yield from _fields(get_args(kind)[0], (*here, 0), beside)
        else:
            yield here, info, kind, beside


def _json(value: float) -> float | int:
    """``value`` as JSON would carry it: an int when it is whole."""
    return int(value) if float(value).is_integer() else value


@dataclass(frozen=True)
class Bound:
    value: float
    #: True for ge/le (the bound itself is admitted).
    inclusive: bool
    lower: bool


def _bounds(info: FieldInfo) -> list[Bound]:
    out = []
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            out.append(Bound(float(item.ge), True, True))  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Gt):
            out.append(Bound(float(item.gt), False, True))  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            out.append(Bound(float(item.le), True, False))  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Lt):
            out.append(Bound(float(item.lt), False, False))  # type: ignore[arg-type]
    return out


def _outside(bounds: list[Bound], whole: bool) -> list[tuple[str, float | int]]:
    """(label, value) pairs just past each bound."""
    step = 1 if whole else 0.5
    out: list[tuple[str, float]] = []
    for b in bounds:
        side, sign = ("low", -1) if b.lower else ("high", 1)
        out.append((side, b.value + sign * step if b.inclusive else b.value))
        if not whole and not b.value.is_integer():  # an integer past a fractional bound
            out.append((f"{side}-int", math.floor(b.value) if b.lower else math.ceil(b.value)))
    return [(label, _json(v)) for label, v in out]


def _inside(bounds: list[Bound], whole: bool) -> list[tuple[str, float | int]]:
    """(label, value) pairs at each bound, or just inside an exclusive one."""
    step = 1 if whole else 1e-6
    out = []
    for b in bounds:
        side, sign = ("low", 1) if b.lower else ("high", -1)
        out.append((f"{side}-edge", _json(b.value if b.inclusive else b.value + sign * step)))
    return out


def _slug(where: tuple[str | int, ...], label: str) -> str:
    parts = [str(p) for p in where if not isinstance(p, int)] + [label]
    text = "-".join(parts).lower()
    return text[-55:].lstrip("-")


def _leaves() -> Iterator[tuple[tuple[str | int, ...], Any, list[Bound], Beside]]:
    for where, info, kind, beside in _fields(TradingStackSpec):
        yield where, kind, _bounds(info), beside


def tunable_cases() -> list[TunableCase]:
    """One manifest per bad value of every tunable (each must be refused, naming it)."""
    cases: list[TunableCase] = []
    for where, kind, bounds, beside in _leaves():
        bad: list[tuple[str, Any]] = []
        if kind is bool:
            bad.append(("string", "yes"))
        elif kind is int and bounds:
            bad += _outside(bounds, whole=True)
            lowest = min((b.value for b in bounds if b.lower), default=0.0)
            bad.append(("fraction", lowest + 1.5))
        elif kind is float:
            bad += _outside(bounds, whole=False)
        elif get_origin(kind) is Literal:
            bad.append(("unknown", "unknown-choice"))
        cases += [TunableCase(_slug(where, label), where, v, beside) for label, v in bad]
    return cases


def edge_cases() -> list[TunableCase]:
    """One manifest per bound of every number at its edge: the model and the API server
    must agree on it (admitted, unless another rule of the spec refuses it)."""
    cases: list[TunableCase] = []
    for where, kind, bounds, beside in _leaves():
        if kind in (int, float):
            edges = _inside(bounds, whole=kind is int)
            cases += [TunableCase(_slug(where, label), where, v, beside) for label, v in edges]
    return cases
