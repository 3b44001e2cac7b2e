"""Trading bots: strategy instances, each run active-standby."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from tradingstack_workers.bots.marketdata.timeframes import TIMEFRAMES

from .base import DnsLabel, LocalObjectReference, Resources, WireModel, resources
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


class ExchangeSpec(WireModel):
    """A real exchange through ccxt: the bot's candles, and its orders when spec.mode is live.

    The key in ``credentialsSecret`` needs trading permission only: never withdrawals.
    """

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{1,31}$", max_length=32)] = Field(
        description="ccxt exchange id: binance, kraken, okx, ..."
    )
    market_type: Literal["spot", "futures"] = Field(
        default="spot", description="spot, or futures (USD-margined perpetuals)."
    )
    sandbox: bool = Field(
        default=True,
        description="ccxt's testnet; true until a person sets false to trade the real account.",
    )
    credentials_secret: LocalObjectReference | None = Field(
        default=None,
        description="Secret with keys apiKey, secret and (some exchanges) password;"
        " required for mode: live.",
    )
    api_url: (
        Annotated[str, StringConstraints(pattern=r"^https?://[^/?#]+$", max_length=256)] | None
    ) = Field(
        default=None,
        description="Base URL replacing the host of every ccxt API URL (a regional endpoint"
        " or a proxy).",
    )
    poll_seconds: int = Field(
        default=15, ge=1, le=3600, description="How often the account poller reconciles."
    )
    drift_tolerance_usd: float = Field(
        default=10.0, ge=0, description="Ledger-exchange difference that raises a drift alert."
    )
    send_window_seconds: int = Field(
        default=5,
        ge=1,
        le=60,
        description="How long a sent order may take to arrive; the exchange refuses it after.",
    )
    open_order_timeout_seconds: int = Field(
        default=60,
        ge=1,
        le=86_400,
        description="The bot sends market orders: one still open after this long is cancelled"
        " by the account poller.",
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
    exchange: ExchangeSpec | None = Field(
        default=None,
        description="A real exchange: candles from it, and orders to it when spec.mode is live.",
    )

    @model_validator(mode="after")
    def _exchange_bar_length(self) -> Self:
        if self.exchange is not None and self.feed.interval_seconds not in TIMEFRAMES:
            raise ValueError(
                f"feed.intervalSeconds: {self.feed.interval_seconds} is not a bar length of"
                f" the exchange (one of {', '.join(map(str, TIMEFRAMES))})"
            )
        return self

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
