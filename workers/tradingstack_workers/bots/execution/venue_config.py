"""What a bot needs to know of its exchange, without ccxt: ``TS_EXCHANGE`` and the key.

Apart from :mod:`.venue` because the operator renders and validates these (through
``bots/settings.py``) and must not import ccxt for it: ccxt alone is about 45 MiB of
the operator's resident memory (bench.operator_controlplane).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

MarketType = Literal["spot", "futures"]


class VenueError(ValueError):
    """The exchange cannot be set up as configured; the message names the field."""


class VenueConfig(BaseModel):
    """``TS_EXCHANGE``: a ccxt exchange id and how to trade on it (camelCase like the spec)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9]{1,31}$", description="ccxt exchange id")
    market_type: MarketType = Field(default="spot", alias="marketType")
    sandbox: bool = True
    api_url: str | None = Field(default=None, alias="apiUrl", pattern=r"^https?://[^/?#]+$")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, alias="timeoutSeconds")
    #: How long a sent order may take to arrive: the exchange refuses it afterwards.
    send_window_seconds: float = Field(default=5.0, gt=0, le=60, alias="sendWindowSeconds")
    poll_seconds: float = Field(default=15.0, gt=0, alias="pollSeconds")
    drift_tolerance_usd: float = Field(default=10.0, ge=0, alias="driftToleranceUsd")
    fee_bps: float = Field(default=10.0, ge=0, alias="feeBps")
    #: Ours are market orders: one still open after this long is cancelled by the poller.
    open_order_timeout_seconds: float = Field(
        default=60.0, gt=0, le=86_400, alias="openOrderTimeoutSeconds"
    )


@dataclass(frozen=True)
class Credentials:
    """The trading key from the Secret (``apiKey``, ``secret``, optional ``password``)."""

    api_key: SecretStr
    secret: SecretStr
    password: SecretStr | None = None
