"""The TradingStack status, so the CRD's status schema comes from a model too."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, Strict, StringConstraints

from .base import WireModel

Phase = Literal["Pending", "Progressing", "Ready", "Degraded", "Halted", "Paused", "Invalid"]

# The limits and patterns of metav1.Condition, so `kubectl wait --for=condition=...` works.
_CONDITION_TYPE = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
_CONDITION_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(WireModel):
    """A condition in the metav1.Condition shape."""

    type: Annotated[str, StringConstraints(pattern=_CONDITION_TYPE, max_length=316)]
    status: Literal["True", "False", "Unknown"]
    observed_generation: int | None = Field(default=None, ge=0)
    # Not strict: the API hands timestamps over as RFC 3339 strings.
    last_transition_time: Annotated[AwareDatetime, Strict(False)]
    reason: Annotated[
        str, StringConstraints(pattern=_CONDITION_REASON, min_length=1, max_length=1024)
    ]
    message: Annotated[str, StringConstraints(max_length=32768)]


class ComponentStatus(WireModel):
    """Ready and desired pod counts of one component."""

    ready: int = Field(ge=0)
    desired: int = Field(ge=0)


class TradingStackStatus(WireModel):
    """What the operator observed; conditions are written as a whole list."""

    phase: Phase | None = Field(default=None, description="For display; read the conditions.")
    observed_generation: int | None = Field(default=None, ge=0)
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    redis_master: Annotated[str, StringConstraints(max_length=253)] | None = Field(
        default=None, description="The Redis pod Sentinel reports as master."
    )
    components: dict[str, ComponentStatus] = Field(
        default_factory=dict,
        max_length=64,
        description="By component (redis, sentinel, clusters, gate, governor, intel, bot-NAME).",
    )
