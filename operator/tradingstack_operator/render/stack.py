"""What the renderer renders from: a stack's identity, its spec, and the operator's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..spec import API_VERSION, KIND, SpecError, SpecProblem, TradingStackSpec, parse_spec
from . import names

Manifest = dict[str, Any]

#: Pinned Redis image (BSD-licensed 7.2 line); it carries sh, redis-cli and coreutils.
DEFAULT_REDIS_IMAGE = "docker.io/library/redis:7.2.7"
#: Pinned redis_exporter (MIT), the metrics sidecar of every Redis pod. The pod tier runs
#: the same version, built by scripts/tools.sh from scripts/redis-exporter/go.mod (its
#: require line follows this tag).
DEFAULT_EXPORTER_IMAGE = "docker.io/oliver006/redis_exporter:v1.74.0"
#: Where the operator runs when it is not told (the chart's namespace).
DEFAULT_OPERATOR_NAMESPACE = "tradingstack-system"
#: The product image when neither the spec nor the operator names one (``render`` offline).
DEFAULT_IMAGE = "ghcr.io/tradingstack/tradingstack:0.1.0"


@dataclass(frozen=True)
class Options:
    """What the operator knows and the spec does not: its own image and the cluster's DNS."""

    image: str = DEFAULT_IMAGE
    redis_image: str = DEFAULT_REDIS_IMAGE
    exporter_image: str = DEFAULT_EXPORTER_IMAGE
    cluster_domain: str = "cluster.local"
    #: The NetworkPolicy admits the operator's pods from this namespace only.
    operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE


@dataclass(frozen=True)
class Stack:
    """One TradingStack to render: metadata.name, metadata.namespace and the parsed spec."""

    name: str
    namespace: str
    spec: TradingStackSpec
    options: Options = field(default_factory=Options)

    @property
    def image(self) -> str:
        return self.spec.image or self.options.image

    @property
    def redis_image(self) -> str:
        return self.spec.redis.image or self.options.redis_image

    @property
    def exporter_image(self) -> str:
        return self.spec.redis.metrics.image or self.options.exporter_image


def stack_from_manifest(
    manifest: Mapping[str, Any], *, namespace: str = "default", options: Options | None = None
) -> Stack:
    """Validate a whole TradingStack object; raise SpecError naming every bad field."""
    problems: list[SpecProblem] = []
    if manifest.get("apiVersion") != API_VERSION:
        problems.append(SpecProblem("apiVersion", f"must be {API_VERSION}"))
    if manifest.get("kind") != KIND:
        problems.append(SpecProblem("kind", f"must be {KIND}"))
    metadata = manifest.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = metadata.get("name")
    if not isinstance(name, str):
        problems.append(SpecProblem("metadata.name", "is required"))
    elif (problem := names.check_stack_name(name)) is not None:
        problems.append(problem)
    spec = manifest.get("spec")
    if not isinstance(spec, Mapping):
        problems.append(SpecProblem("spec", "is required"))
    else:
        try:
            parsed = parse_spec(spec)
        except SpecError as exc:
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    return Stack(
        name=str(name),
        namespace=str(metadata.get("namespace") or namespace),
        spec=parsed,
        options=options or Options(),
    )
