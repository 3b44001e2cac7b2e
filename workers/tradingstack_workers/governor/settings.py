"""Environment contract of the governor worker (the renderer writes these variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..runtime.settings import RuntimeSettings


class GovernorSettings(RuntimeSettings):
    kind = "governor"

    mode: Literal["shadow", "enforce"] = "enforce"
    interval_seconds: float = Field(default=5, gt=0)
    staleness_seconds: float = Field(default=30, gt=0)
    lkg_max_age_seconds: float = Field(default=900, ge=0)
    budget_ttl_seconds: int = Field(default=300, gt=0)
    base_risk_pct: float = Field(default=2.0, gt=0, le=100)
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
