"""Environment contract of the gate worker (the renderer writes these variables)."""

from __future__ import annotations

from pydantic import Field

from ..runtime.settings import RuntimeSettings


class GateSettings(RuntimeSettings):
    kind = "gate"

    permit_ttl_seconds: int = Field(default=60, gt=0)
    cluster_stale_seconds: float = Field(default=120, gt=0)
