"""The TradingStack spec: the single source of truth the CRD is generated from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import Field, StringConstraints, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from .base import LocalObjectReference, WireModel
from .bots import PARAMS_ERROR, BotSpec, Symbols
from .errors import SpecError, SpecProblem, did_you_mean
from .monitoring import MonitoringSpec
from .placement import PlacementSpec
from .redis import RedisSpec
from .rules import RULES
from .workers import WorkersSpec

GROUP = "tradingstack.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "TradingStack"
PLURAL = "tradingstacks"
SINGULAR = "tradingstack"
SHORT_NAMES = ("ts",)
MAX_BOTS = 20

_RULES_ERROR = "spec_rules"


class TradingStackSpec(WireModel):
    """One trading account's pipeline: Redis, the workers and the bots."""

    image: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = Field(
        default=None, description="Image for every worker; unset uses the operator's own."
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    image_pull_secrets: list[LocalObjectReference] = Field(
        default_factory=list,
        max_length=16,
        description="Secrets for a private registry: set on every pod and ServiceAccount.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    mode: Literal["paper", "live"] = Field(
        default="paper",
        description="paper trades on the paper exchange; live is refused until a live"
        " exchange adapter exists.",
    )
    symbols: Symbols = Field(description="Every symbol the stack follows.")
    halted: bool = Field(
        default=False, description="Kill switch: bots open no positions; all else runs."
    )
    paused: bool = Field(
        default=False, description="The operator leaves the stack's children alone."
    )
    key_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)] = (
        Field(default="quantum", description="Prefix of every Redis key the stack uses.")
    )
    redis: RedisSpec = Field(default_factory=RedisSpec)
    workers: WorkersSpec = Field(default_factory=WorkersSpec)
    bots: list[BotSpec] = Field(
        default_factory=list,
        max_length=MAX_BOTS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    placement: PlacementSpec = Field(default_factory=PlacementSpec)

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        problems = [p for rule in RULES if (p := rule.check(self)) is not None]
        if problems:
            raise PydanticCustomError(
                _RULES_ERROR,
                "{text}",
                {"text": "; ".join(map(str, problems)), "problems": tuple(problems)},
            )
        return self


def _path(loc: tuple[int | str, ...]) -> str:
    return "spec" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _problems(error: ErrorDetails) -> list[SpecProblem]:
    ctx = error.get("ctx", {})
    if error["type"] == _RULES_ERROR:
        return list(ctx["problems"])
    if error["type"] == PARAMS_ERROR:
        where = _path(error["loc"])
        return [SpecProblem(f"{where}.params.{name}", message) for name, message in ctx["problems"]]
    if error["type"] == "value_error":  # our own validators' messages already say enough
        return [SpecProblem(_path(error["loc"]), str(ctx["error"]))]
    message, value = error["msg"], error["input"]
    if error["type"] == "extra_forbidden":
        message += did_you_mean(TradingStackSpec, error["loc"])
    elif isinstance(value, str | int | float | bool) and error["type"] != "missing":
        message = f"{message} (got {value!r})"
    return [SpecProblem(_path(error["loc"]), message)]


def parse_spec(data: Mapping[str, Any]) -> TradingStackSpec:
    """Validate a TradingStack's ``spec`` as stored (camelCase); raise SpecError naming fields."""
    try:
        return TradingStackSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(p for error in exc.errors() for p in _problems(error)) from None
