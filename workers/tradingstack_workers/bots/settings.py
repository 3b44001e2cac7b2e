"""Environment contract of a bot (the renderer writes these variables)."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, Json, PrivateAttr, SecretStr, ValidationError, model_validator

from ..runtime.leadership import LeaderSettings
from ..runtime.settings import CommaList, SettingsError
from .execution.chokepoint import ORDER_TTL_SECONDS
from .execution.venue_config import Credentials, VenueConfig
from .marketdata import (
    CsvSpec,
    ExchangeSpec,
    Feed,
    FeedError,
    SyntheticSpec,
    build_feed,
    parse_feed_spec,
)
from .marketdata.config import describe
from .strategies.params import ParamsError, validated

#: The feed a bot reads when TS_FEED is not set: a synthetic market whose origin is fixed,
#: so a restarted or promoted bot continues the very same path.
DEFAULT_FEED: dict[str, Any] = {
    "kind": "synthetic",
    "seed": 7,
    "interval_s": 60,
    "origin_ts": 1767225600,
}


class BotSettings(LeaderSettings):
    kind = "bots"

    bot_name: str = Field(min_length=1)
    strategy: Literal["bollinger_bounce", "rsi_mean_reversion", "breakout_momentum"]
    symbols: CommaList = Field(min_length=1)
    # Defaults are the parsed value: not run through the JSON validator a second time.
    params: Json[dict[str, float]] = Field(default_factory=dict, validate_default=False)
    mode: Literal["paper", "live"] = "paper"
    account: str = Field(
        default="", pattern=r"^[A-Za-z0-9_.-]*$", description="Paper account (default bot_name)"
    )
    feed: Json[dict[str, Any]] = Field(
        default_factory=lambda: dict(DEFAULT_FEED), validate_default=False
    )
    cycle_seconds: float = Field(default=5.0, gt=0)
    history_bars: int = Field(
        default=0, ge=0, description="Bars kept per symbol (0: what strategy and vol need)"
    )
    fee_bps: float = Field(default=4.0, ge=0)
    slippage_bps: float = Field(default=2.0, ge=0)
    initial_cash_usd: float = Field(default=100_000.0, gt=0)
    max_leverage: float = Field(
        default=1.0, ge=0, description="Most gross exposure per unit of equity (0: unchecked)"
    )
    order_ttl_seconds: int = Field(
        default=ORDER_TTL_SECONDS, gt=0, description="How long order records (dedup) are kept"
    )
    max_open_positions: int = Field(default=10, ge=0)
    max_order_notional_usd: float = Field(default=10_000.0, ge=0)
    max_orders_per_minute: int = Field(default=30, ge=0)
    order_qty_usd: float = Field(default=1_000.0, gt=0, description="Notional of one entry")
    permit_wait_seconds: float = Field(default=2.0, gt=0)
    exchange: Json[dict[str, Any]] | None = Field(
        default=None,
        validate_default=False,
        description="The ccxt exchange (spec.bots[].exchange) as JSON: live orders and candles",
    )
    exchange_api_key: SecretStr | None = None
    exchange_secret: SecretStr | None = None
    exchange_password: SecretStr | None = None
    _feed_spec: SyntheticSpec | CsvSpec | ExchangeSpec = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            name = data.get("bot_name")
            if isinstance(name, str) and name:
                data = {**data}
                data.setdefault("account", name)
                data.setdefault("lease_name", f"tradingstack-bot-{name}")
        return data

    @model_validator(mode="after")
    def _check_bot(self) -> Self:
        venue = self.venue
        if self.mode == "live":
            # Refused rather than paper-trading while the desk believes it trades live.
            if venue is None:
                raise ValueError(
                    "TS_MODE=live needs TS_EXCHANGE (spec.bots[].exchange): live orders go"
                    " to a real exchange; without one use TS_MODE=paper"
                )
            if self.credentials is None:
                raise ValueError(
                    "TS_MODE=live needs TS_EXCHANGE_API_KEY and TS_EXCHANGE_SECRET (the"
                    " apiKey and secret of spec.bots[].exchange.credentialsSecret)"
                )
        try:
            feed = parse_feed_spec(self.feed, self.symbols)
        except FeedError as exc:
            raise ValueError(f"TS_FEED: {exc}") from None
        if isinstance(feed, ExchangeSpec) and venue is None:
            raise ValueError("TS_FEED: kind exchange needs TS_EXCHANGE")
        self._feed_spec = feed
        try:
            validated(self.strategy, self.params)
        except ParamsError as exc:
            raise ValueError(f"TS_PARAMS: {exc}") from None
        if self.permit_wait_seconds >= self.heartbeat_interval_seconds:
            raise ValueError(
                f"TS_PERMIT_WAIT_SECONDS: {self.permit_wait_seconds:g} must be shorter than "
                f"TS_HEARTBEAT_INTERVAL_SECONDS ({self.heartbeat_interval_seconds:g})"
            )
        if self.lease_seconds <= self.cycle_seconds + self.lease_safety_seconds:
            raise ValueError(
                f"TS_LEASE_SECONDS: {self.lease_seconds:g} must exceed TS_CYCLE_SECONDS "
                f"({self.cycle_seconds:g}) + TS_LEASE_SAFETY_SECONDS "
                f"({self.lease_safety_seconds:g}): the leader renews once a cycle"
            )
        return self

    @property
    def feed_spec(self) -> SyntheticSpec | CsvSpec | ExchangeSpec:
        """``TS_FEED`` parsed for the bot's symbols, as checked at start; an exchange feed
        comes with ``TS_EXCHANGE`` set."""
        return self._feed_spec

    def initial_feed(self, now: float) -> Feed | ExchangeSpec:
        """The feed the bot starts with at ``now`` (epoch seconds): a replay (its CSV read
        here) or a synthetic market; an exchange's candles come through the bot's exchange
        client, built with it. Raises :class:`FeedError` naming the field."""
        spec = self._feed_spec
        return spec if isinstance(spec, ExchangeSpec) else build_feed(spec, now)

    def check_inputs(self, now: float) -> None:
        try:
            self.initial_feed(now)
        except FeedError as exc:
            raise SettingsError(f"TS_FEED: {exc}") from None

    @property
    def venue(self) -> VenueConfig | None:
        """``TS_EXCHANGE`` parsed; None when the bot has no exchange."""
        if self.exchange is None:
            return None
        try:
            return VenueConfig.model_validate(self.exchange)
        except ValidationError as exc:
            raise ValueError(describe(exc, "TS_EXCHANGE")) from None

    @property
    def credentials(self) -> Credentials | None:
        """The exchange key from the Secret; None unless both apiKey and secret are set."""
        if self.exchange_api_key is None or self.exchange_secret is None:
            return None
        return Credentials(self.exchange_api_key, self.exchange_secret, self.exchange_password)
