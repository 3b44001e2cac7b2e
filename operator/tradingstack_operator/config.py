"""The operator's own settings, from TS_OPERATOR_* variables, and how they tune kopf."""

from __future__ import annotations

import logging

import kopf
from pydantic import Field

from tradingstack_workers.runtime.settings import CommaList, EnvSettings

from .render.stack import (
    DEFAULT_EXPORTER_IMAGE,
    DEFAULT_IMAGE,
    DEFAULT_OPERATOR_NAMESPACE,
    DEFAULT_REDIS_IMAGE,
    Options,
)
from .resources import CHILD_RESOURCES, FIELD_MANAGER, MANAGED_BY
from .spec import GROUP


class OperatorConfig(EnvSettings):
    """``TS_OPERATOR_*``, loaded by ``load_settings``: an unknown or mistyped variable is
    refused (with the nearest name) as the workers refuse unknown ``TS_*`` ones."""

    env_prefix = "TS_OPERATOR_"
    owner = "the operator"

    resync_seconds: float = Field(default=30, gt=0, description="Level-based resync period")
    request_timeout_seconds: float = Field(default=30, gt=0)
    watch_server_timeout_seconds: int = Field(default=300, gt=0)
    peering_name: str = Field(default="tradingstack", min_length=1)
    peering_priority: int = Field(default=0, description="Higher wins; a standby uses lower")
    standalone: bool = Field(default=True, description="No peering (a single operator)")
    event_level: str = Field(default="WARNING", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    max_workers: int = Field(default=8, gt=0)
    namespaces: CommaList = Field(default=(), description="Comma-separated; empty watches all")
    image: str = Field(default=DEFAULT_IMAGE, min_length=1, description="Workers' image")
    redis_image: str = Field(default=DEFAULT_REDIS_IMAGE, min_length=1)
    exporter_image: str = Field(default=DEFAULT_EXPORTER_IMAGE, min_length=1)
    cluster_domain: str = Field(default="cluster.local", min_length=1)
    pod_namespace: str = Field(
        default=DEFAULT_OPERATOR_NAMESPACE,
        min_length=1,
        description="The operator's own namespace (the chart sets it from the downward API)",
    )
    probe_sentinel: bool = Field(
        default=True,
        description="Ask the stack's sentinels for the master; off where the operator cannot"
        " reach the pods' DNS names (out of cluster): Redis readiness is then the pods' own",
    )

    @property
    def watched_namespaces(self) -> list[str]:
        """The namespaces to watch; empty means every namespace (cluster-wide)."""
        return list(self.namespaces)

    def render_options(self) -> Options:
        """What the renderer needs from the operator: images and the cluster's DNS domain."""
        return Options(
            image=self.image,
            redis_image=self.redis_image,
            exporter_image=self.exporter_image,
            cluster_domain=self.cluster_domain,
            operator_namespace=self.pod_namespace,
        )

    health_port: int = Field(default=8080, ge=0, le=65535)
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="Prometheus /metrics; unset serves none"
    )


def tune(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    """kopf settings, chosen for an operator that must not hang, spam or fight a twin."""
    # Only warnings become Kubernetes Events; our own transitions post their own Events.
    settings.posting.level = getattr(logging, config.event_level)
    # Our names, so two operators on one cluster never mistake each other's marks.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # A request or watch that hangs is cut and retried rather than stalling reconciliation.
    settings.networking.request_timeout = config.request_timeout_seconds
    settings.networking.connect_timeout = min(10.0, config.request_timeout_seconds)
    settings.watching.server_timeout = config.watch_server_timeout_seconds
    settings.watching.client_timeout = config.watch_server_timeout_seconds + 30
    settings.watching.connect_timeout = 10
    # The children's watches (kopf indexes) ask the server for our children only: kopf
    # filters labels on its side otherwise, streaming every Secret and Deployment in.
    for resource in CHILD_RESOURCES:
        settings.watching.label_selectors[resource.group, resource.plural] = (
            f"{MANAGED_BY}={FIELD_MANAGER}"
        )
    # Active-standby operators: the highest priority handles, the others wait.
    settings.peering.name = config.peering_name
    settings.peering.priority = config.peering_priority
    settings.peering.standalone = config.standalone
    settings.peering.mandatory = not config.standalone
    settings.execution.max_workers = config.max_workers
    # Named namespaces leave nothing to discover at run time; kopf's scanning would list
    # namespaces and CRDs cluster-wide, which the chart's namespaced Role does not allow.
    settings.scanning.disabled = bool(config.watched_namespaces)
    # A sync handler in a thread cannot be cancelled, only waited for: check every second
    # (kopf's default is a minute) and give up well inside a pod's termination grace.
    settings.background.cancellation_polling = 1
    settings.process.ultimate_exiting_timeout = 20
    # kopf's task for one object waits this long for the object's next event and holds the
    # last one whole (managedFields included) meanwhile: while the children of 100 stacks
    # were created together, kopf's 5 s kept many of them at once, and the operator's RSS
    # stayed at that peak, 13-17 MiB above what 0.5 s leaves (bench.operator_controlplane).
    # A later event starts a new task, which is cheap.
    settings.queueing.idle_timeout = 0.5
