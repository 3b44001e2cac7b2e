"""Trading bots: strategy instances, each run active-standby."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from .base import DnsLabel, Resources, WireModel, resources
from .params import PARAM_RULES, param_problems

#: The error type of a bot's parameter problems (each one reported at its parameter).
PARAMS_ERROR = "bot_params"

SYMBOL_PATTERN = r"^[A-Z0-9]{2,20}$"
MAX_SYMBOLS = 200

Symbol = Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN, max_length=20)]


def _unique(symbols: list[str]) -> list[str]:
    # The CRD declares the list a set, so the API server refuses duplicates too.
    duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
    if duplicates:
        raise ValueError(f"{', '.join(duplicates)} listed more than once")
    return symbols


Symbols = Annotated[
    list[Symbol],
    Field(
        min_length=1, max_length=MAX_SYMBOLS, json_schema_extra={"x-kubernetes-list-type": "set"}
    ),
    AfterValidator(_unique),
]
Strategy = Literal["bollinger_bounce", "rsi_mean_reversion", "breakout_momentum"]


class FeedSpec(WireModel):
    """The synthetic paper feed: bar length and seed (the same seed replays the same market)."""

    interval_seconds: int = Field(
        default=60, ge=1, le=86_400, description="Bar length; short bars show trades sooner."
    )
    seed: int = Field(default=7, ge=0, le=2**31 - 1, description="Seed of the price paths.")
    correlation: float = Field(
        default=0.8,
        ge=0,
        le=0.99,
        description="Pairwise correlation of the bot's symbols' returns (one market factor).",
    )


class BotSpec(WireModel):
    """One strategy over some of the stack's symbols; one replica trades, the rest stand by.

    ``params`` are checked at admission against the strategy's own definition
    (:mod:`.params`): the CRD carries them as CEL rules on each bot, the model runs the
    same checks, so a bot never meets at start a parameter the spec let through.
    """

    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [r.schema() for r in PARAM_RULES]}
    )

    name: DnsLabel
    strategy: Strategy
    symbols: Symbols = Field(
        description="Symbols this bot trades; each must be listed in spec.symbols."
    )
    params: dict[str, float] = Field(
        default_factory=dict, max_length=32, description="Strategy parameters by name."
    )
    replicas: int = Field(
        default=2, ge=1, le=5, description="Active-standby: a lease elects the one that trades."
    )
    resources: Resources = Field(default_factory=lambda: resources("100m", "128Mi", "512Mi"))
    feed: FeedSpec = Field(default_factory=FeedSpec)

    @model_validator(mode="after")
    def _check_params(self) -> Self:
        problems = param_problems(self.strategy, self.params)
        if problems:
            raise PydanticCustomError(
                PARAMS_ERROR,
                "{text}",
                {"text": "; ".join(f"params.{n}: {m}" for n, m in problems), "problems": problems},
            )
        return self
