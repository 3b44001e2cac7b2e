"""What determines a synthetic market (:mod:`.synthetic`): the symbols' price processes,
their correlation, the seed and the origin. Without numpy: bots' settings and the
operator's spec check these; only the feed itself computes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...wire.fields import EpochSeconds


class PathParams(BaseModel):
    """One symbol's price process; volatility and drift are annualised (365-day year)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_price: float = Field(default=100.0, gt=0, allow_inf_nan=False)
    volatility: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    drift: float = Field(default=0.0, allow_inf_nan=False)
    volume: float = Field(default=1000.0, gt=0, allow_inf_nan=False)


class SyntheticConfig(BaseModel):
    """Everything that determines the market; two equal configs give equal bars.

    ``correlation`` (rows in ``symbols`` order) and ``factors`` (``{factor: {symbol:
    loading}}``) are alternatives; with neither, symbols move independently.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbols: tuple[str, ...] = Field(min_length=1)
    seed: int
    interval_s: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    #: Epoch seconds where the path starts at ``start_price``. Required, and must stay
    #: fixed for the life of the bot (a spec value or the stack's creation time): it is
    #: what makes a restart resume the same market rather than begin another.
    origin_ts: EpochSeconds
    default: PathParams = PathParams()
    paths: dict[str, PathParams] = Field(default_factory=dict)
    correlation: tuple[tuple[float, ...], ...] | None = None
    factors: dict[str, dict[str, float]] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticConfig:
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("symbols: listed more than once")
        unknown = sorted(set(self.paths) - set(self.symbols))
        if unknown:
            raise ValueError(f"paths: {', '.join(unknown)} not among symbols")
        if self.correlation is not None and self.factors is not None:
            raise ValueError("give either correlation or factors, not both")
        return self

    def path(self, symbol: str) -> PathParams:
        return self.paths.get(symbol, self.default)
