"""Environment contract of the clusters worker (the renderer writes these variables)."""

from __future__ import annotations

from pydantic import Field

from ..runtime.settings import CommaList, RuntimeSettings


class ClustersSettings(RuntimeSettings):
    kind = "clusters"

    symbols: CommaList = Field(default=(), description="Allowlist; empty takes every snapshot")
    lookback_points: int = Field(default=360, ge=11)
    correlation_threshold: float = Field(default=0.70, gt=0, le=1)
    interval_seconds: float = Field(default=60, gt=0)
