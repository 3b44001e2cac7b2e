"""Environment contract of the governor worker (the renderer writes these variables)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from ..runtime.leadership import LeaderSettings
from ..runtime.weights import sums_to_one


class GovernorSettings(LeaderSettings):
    kind = "governor"

    mode: Literal["shadow", "enforce"] = "enforce"
    interval_seconds: float = Field(default=5, gt=0)
    staleness_seconds: float = Field(default=30, gt=0)
    lkg_max_age_seconds: float = Field(default=900, ge=0)
    budget_ttl_seconds: int = Field(default=300, gt=0)
    base_risk_pct: float = Field(default=2.0, gt=0, le=100, description="Per symbol, % of equity")
    total_risk_pct: float = Field(
        default=10.0, gt=0, le=100, description="All symbols' budgets together, % of equity"
    )
    heat_weight: float = Field(default=0.4, ge=0, le=1, description="Heat in market stress")
    cluster_weight: float = Field(default=0.4, ge=0, le=1, description="Cluster stress in it")
    vol_weight: float = Field(default=0.2, ge=0, le=1, description="Volatility regime in it")
    test_mode: bool = Field(default=False, description="Serve the test-injection endpoint")
    max_drawdown_pct: float = Field(
        default=20.0, gt=0, le=100, description="Drawdown (percent) at which budgets reach zero"
    )
    heat_stale_seconds: float = Field(
        default=120, gt=0, description="Portfolio heat older than this counts as missing"
    )
    cluster_stale_seconds: float = Field(
        default=120, gt=0, description="Cluster state older than this counts as missing"
    )

    @model_validator(mode="after")
    def _check_weights(self) -> Self:
        total = self.heat_weight + self.cluster_weight + self.vol_weight
        if not sums_to_one(total):
            raise ValueError(
                "TS_HEAT_WEIGHT + TS_CLUSTER_WEIGHT + TS_VOL_WEIGHT must be 1 "
                f"(market stress stays in [0, 1]); they sum to {total:g}"
            )
        return self
