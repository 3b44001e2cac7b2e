"""Where the stack's pods may run; applied to every child pod."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from .base import FreeForm, WireModel


class PlacementSpec(WireModel):
    """Pod placement shared by Redis and every worker."""

    node_selector: dict[str, Annotated[str, StringConstraints(max_length=63)]] = Field(
        default_factory=dict, max_length=32
    )
    tolerations: list[FreeForm] = Field(
        default_factory=list,
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )
    affinity: FreeForm = Field(
        default_factory=dict, description="A pod affinity object, as in a PodSpec."
    )
