"""Environment contract of the intel worker (the renderer writes these variables)."""

from __future__ import annotations

from pydantic import Field

from ..runtime.settings import RuntimeSettings


class IntelSettings(RuntimeSettings):
    kind = "intel"

    alert_medium_pct: int = Field(default=40, ge=1, le=100)
    alert_high_pct: int = Field(default=60, ge=1, le=100)
    alert_critical_pct: int = Field(default=80, ge=1, le=100)
    alert_window_seconds: int = Field(default=300, gt=0)
    alert_dedup_seconds: int = Field(default=300, ge=0)
