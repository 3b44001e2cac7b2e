"""What the stack offers kube-prometheus-stack: scrape targets, alert rules, dashboards."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from .base import Labels, WireModel

# Prometheus' duration syntax, as the ServiceMonitor CRD accepts it.
Duration = Annotated[
    str, StringConstraints(pattern=r"^(0|(([0-9]+)(ms|s|m|h|d|w|y))+)$", max_length=32)
]


class ServiceMonitorSpec(WireModel):
    """ServiceMonitors for the workers (a PodMonitor for bots, so standbys are scraped too)."""

    enabled: bool = True
    labels: Labels = Field(
        default_factory=dict,
        description="Labels Prometheus selects on, e.g. release: kube-prometheus-stack.",
    )
    interval: Duration = "30s"


class PrometheusRuleSpec(WireModel):
    """The alert rules from the seeds' live-health sets, as one PrometheusRule."""

    enabled: bool = True
    labels: Labels = Field(default_factory=dict)


class DashboardsSpec(WireModel):
    """Grafana dashboards as ConfigMaps the Grafana sidecar picks up by label."""

    enabled: bool = True
    labels: Labels = Field(default_factory=lambda: {"grafana_dashboard": "1"})


class MonitoringSpec(WireModel):
    """Prometheus Operator objects rendered for the stack."""

    scraper_namespace_labels: Labels = Field(
        default_factory=dict,
        description="Labels of the namespaces whose pods may scrape the metrics ports "
        "(e.g. kubernetes.io/metadata.name: monitoring); empty admits every namespace.",
    )
    service_monitor: ServiceMonitorSpec = Field(default_factory=ServiceMonitorSpec)
    prometheus_rule: PrometheusRuleSpec = Field(default_factory=PrometheusRuleSpec)
    dashboards: DashboardsSpec = Field(default_factory=DashboardsSpec)
