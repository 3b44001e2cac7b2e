"""The three hashes the bots' ledger writes: the inputs of clusters, gate and governor.

The ledger builds them and calls ``to_fields``; clusters, gate and governor read them
with ``parse`` (the same class), so a snapshot is held to one rule everywhere.
Every value is text; floats use ``repr`` so they round-trip exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Final, Literal, Self, get_args

from pydantic import BeforeValidator, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from .errors import Fault
from .fields import (
    WIRE,
    EpochSeconds,
    Finite,
    NonNegative,
    Positive,
    Symbol,
    WireFormat,
    parse,
    text_fields,
)

VolRegime = Literal["LOW_VOL", "NORMAL_VOL", "HIGH_VOL", "EXTREME_VOL"]
VOL_REGIMES: Final[tuple[VolRegime, ...]] = get_args(VolRegime)
#: sigma (daily standard deviation of log returns, a fraction) -> regime, the seed's
#: cut-offs: below LOW_SIGMA is LOW, above HIGH_SIGMA is HIGH, above EXTREME_SIGMA is
#: EXTREME. The bots write the label beside the sigma and the governor derives it from a
#: bare sigma: both read these.
LOW_SIGMA = 0.005
HIGH_SIGMA = 0.02
EXTREME_SIGMA = 0.03


@dataclass(frozen=True, kw_only=True, config=WIRE)
class PositionSnapshot:
    """``Keys.snapshot(symbol)``: signed units held, the mark (USD), when (epoch seconds).

    ``symbol`` comes from the key, not from a field.
    """

    symbol: Symbol
    position_amt: Finite
    mark_price: Positive
    ts_epoch: EpochSeconds

    @property
    def exposure(self) -> float:
        """Signed notional (USD): what the position gains or loses per unit relative move."""
        return self.position_amt * self.mark_price

    @classmethod
    def parse(cls, symbol: str, fields: Mapping[str, str], now: float | None) -> PositionSnapshot:
        """The hash of ``symbol`` read at ``now``; :class:`BadEntry` names the fault."""
        return parse(cls, {**fields, "symbol": symbol}, now)

    def to_fields(self) -> dict[str, str]:
        return text_fields(self, exclude=("symbol",))


@dataclass(frozen=True, kw_only=True, config=WIRE)
class PortfolioStateHash(WireFormat):
    """``Keys.portfolio_state``: equity (USD), drawdown in percent below the peak (>= 0 as
    written; readers accept either sign), and when (epoch seconds).

    ``drawdown_unit`` ("pct") is how a writer says the drawdown is a percent: the
    governor warns about a drawdown under 1 that may be a fraction (0.05 for 5 %) only
    when no unit is stated. The seeds' writers state none; ours do (bots' ledger)."""

    equity_usd: Finite
    drawdown: Finite
    timestamp: EpochSeconds
    drawdown_unit: Literal["pct"] | None = None


def _regime(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


@dataclass(frozen=True, kw_only=True, config=WIRE)
class MarketStateHash(WireFormat):
    """``Keys.market_state(symbol)``: the regime label and/or sigma (daily, a fraction)."""

    vol_regime: Annotated[VolRegime, BeforeValidator(_regime)] | None = None
    sigma: NonNegative | None = None

    @model_validator(mode="after")
    def _either(self) -> Self:
        if self.vol_regime is None and self.sigma is None:
            raise PydanticCustomError(
                Fault.MISSING.value, "missing (neither vol_regime nor sigma)", {"field": "sigma"}
            )
        return self
