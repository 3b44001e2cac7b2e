"""Environment contract of the intel worker (the renderer writes the ``alert_*`` variables).

The other fields have defaults the renderer does not need to know about; the
bucket layout they shape is described in :mod:`.buckets`, the stream settings in
:mod:`..runtime.streams`.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from ..runtime.stream_settings import StreamSettings


class IntelSettings(StreamSettings):
    kind = "intel"

    alert_medium_pct: int = Field(default=40, ge=1, le=100)
    alert_high_pct: int = Field(default=60, ge=1, le=100)
    alert_critical_pct: int = Field(default=80, ge=1, le=100)
    alert_window_seconds: int = Field(default=300, gt=0)
    alert_dedup_seconds: int = Field(default=300, ge=0)
    alert_check_seconds: float = Field(default=60.0, gt=0, description="P3.5.1: check every 60 s")
    alert_min_total: int = Field(
        default=10, ge=1, description="Fewer decisions than this in the window never alert"
    )
    bucket_seconds: int = Field(default=60, ge=1, le=3600, description="Width of a time bucket")
    bucket_ttl_seconds: int = Field(
        default=86_400, gt=0, description="Buckets expire this long after they close"
    )
    status_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often pending and lag are refreshed"
    )

    @model_validator(mode="after")
    def _check_intel(self) -> Self:
        pcts = (self.alert_medium_pct, self.alert_high_pct, self.alert_critical_pct)
        if not pcts[0] < pcts[1] < pcts[2]:
            raise ValueError(
                "TS_ALERT_MEDIUM_PCT < TS_ALERT_HIGH_PCT < TS_ALERT_CRITICAL_PCT must hold "
                f"(got {pcts[0]}, {pcts[1]}, {pcts[2]})"
            )
        return self
