"""Building blocks shared by every part of the spec: the wire convention and common types."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

# Kubernetes' quantity grammar without a sign: a negative request or size is never meant.
QUANTITY_PATTERN = (
    r"^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def _quantity(value: object) -> int | str:
    # bool is an int subclass in Python but not in JSON; 0.5 is what the API server refuses.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(QUANTITY_PATTERN, value):
        return value
    raise ValueError(f"{value!r} is not a quantity: use an integer or a string like 500m or 1Gi")


# An int or a quantity string, as Kubernetes' resource.Quantity: one validator, so an error
# names the field once. The schema is written out because it is the one place a structural
# schema may carry anyOf (int-or-string).
Quantity = Annotated[
    int | str,
    PlainValidator(_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "minimum": 0,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN, max_length=63)]
DnsSubdomain = Annotated[str, StringConstraints(pattern=DNS_SUBDOMAIN_PATTERN, max_length=253)]
# Label values; keys are checked by the API server when the labelled child is applied.
Labels = Annotated[
    dict[str, Annotated[str, StringConstraints(max_length=63)]], Field(max_length=32)
]
# A free-form Kubernetes object (affinity, a toleration): validated when the child is applied.
FreeForm = Annotated[
    dict[str, Any], Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
]


class WireModel(BaseModel):
    """camelCase on the wire, snake_case in Python; strict like the API server.

    Strict so that the model refuses what the CRD schema refuses (``"true"`` for a bool,
    ``"3"`` for an int, ``0.5`` for a quantity); ``extra="forbid"`` mirrors kubectl's
    strict field validation.
    """

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True, frozen=True)


class LocalObjectReference(WireModel):
    """A reference by name to an object in the stack's namespace (an image pull Secret)."""

    name: DnsSubdomain


class Resources(WireModel):
    """Compute requests and limits, as in a container's resources."""

    requests: dict[str, Quantity] = Field(default_factory=dict, max_length=16)
    limits: dict[str, Quantity] = Field(default_factory=dict, max_length=16)


def resources(cpu: str, memory: str, memory_limit: str) -> Resources:
    """Default resources: a CPU request but no CPU limit (throttling hurts latency)."""
    return Resources(requests={"cpu": cpu, "memory": memory}, limits={"memory": memory_limit})
