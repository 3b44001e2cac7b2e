"""Environment contract of the gate worker (the renderer writes these variables).

Limits and stress weights are documented with their formulas in :mod:`.decide`;
stream settings in :mod:`..runtime.streams`.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from ..runtime.stream_settings import StreamSettings
from ..runtime.weights import sums_to_one


class GateSettings(StreamSettings):
    kind = "gate"

    permit_ttl_seconds: int = Field(default=60, gt=0)
    cluster_stale_seconds: float = Field(default=120, gt=0)
    portfolio_stale_seconds: float = Field(default=30, gt=0)
    max_proposal_age_seconds: float = Field(default=60, gt=0)
    leverage_cap: float = Field(default=3.0, gt=0, description="Gross leverage at heat 1.0")
    max_heat: float = Field(default=0.90, gt=0, le=1)
    max_stress: float = Field(default=0.85, gt=0, le=1)
    stress_weight_heat: float = Field(default=0.50, ge=0, le=1)
    stress_weight_conc: float = Field(default=0.35, ge=0, le=1)
    stress_weight_k: float = Field(default=0.15, ge=0, le=1)
    snapshot_rescan_seconds: float = Field(
        default=5.0, ge=0, description="How often the snapshot index is read for new symbols"
    )
    heat_publish_seconds: float = Field(
        default=10.0, gt=0, description="Heat is republished this often even without proposals"
    )

    @model_validator(mode="after")
    def _check_gate(self) -> Self:
        weights = self.stress_weight_heat + self.stress_weight_conc + self.stress_weight_k
        if not sums_to_one(weights):
            raise ValueError(
                "TS_STRESS_WEIGHT_HEAT + TS_STRESS_WEIGHT_CONC + TS_STRESS_WEIGHT_K "
                f"must be 1 (stress stays in [0, 1]); they sum to {weights:g}"
            )
        if self.stress_weight_heat < self.stress_weight_k:
            raise ValueError(
                f"TS_STRESS_WEIGHT_HEAT ({self.stress_weight_heat:g}) must be at least "
                f"TS_STRESS_WEIGHT_K ({self.stress_weight_k:g}): otherwise adding to a hedge "
                "leg could lower the stress (gate/decide.py)"
            )
        return self
