"""Prometheus Operator objects: monitors for workers and bots, the alert rules.

Both monitors copy the pods' stack and component labels onto every series, so alert
expressions (alerts.py) can select one stack without relying on job-naming conventions.
"""

from __future__ import annotations

from ..resources import COMPONENT_LABEL, STACK_LABEL
from . import alerts, dashboards, names, pods
from .stack import Manifest, Stack

API_VERSION = "monitoring.coreos.com/v1"
COMPONENT = "monitoring"


def _pod_label(label: str) -> str:
    """The discovery meta label Prometheus gives a pod label (non-alphanumerics to _)."""
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in label)


RELABELINGS = [
    {"sourceLabels": [_pod_label(STACK_LABEL)], "targetLabel": "stack", "action": "replace"},
    {"sourceLabels": [_pod_label(COMPONENT_LABEL)], "targetLabel": "component",
     "action": "replace"},
    # Bots only (absent elsewhere, so no label): leadership alerts group by bot.
    {"sourceLabels": [_pod_label(pods.BOT_LABEL)], "targetLabel": "bot", "action": "replace"},
]  # fmt: skip


def _metadata(stack: Stack, name: str, extra: dict[str, str]) -> Manifest:
    meta = pods.metadata(stack, name, COMPONENT)
    # The user's labels (e.g. release) let Prometheus select the object; ours win on clash.
    meta["labels"] = {**extra, **meta["labels"]}
    return meta


def _endpoint(interval: str) -> Manifest:
    return {"port": "metrics", "path": "/metrics", "interval": interval,
            "relabelings": RELABELINGS}  # fmt: skip


def _monitors(stack: Stack) -> list[Manifest]:
    spec = stack.spec.monitoring.service_monitor
    services = {
        "apiVersion": API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": _metadata(stack, names.service_monitor(stack.name), spec.labels),
        "spec": {
            "selector": {
                "matchLabels": {STACK_LABEL: stack.name},
                "matchExpressions": [
                    {"key": COMPONENT_LABEL, "operator": "In", "values": list(names.WORKER_KINDS)}
                ],
            },
            "namespaceSelector": {"matchNames": [stack.namespace]},
            "endpoints": [_endpoint(spec.interval)],
        },
    }
    out = [services]
    if stack.spec.bots:
        out.append(_pod_monitor(stack, names.pod_monitor(stack.name), names.BOT_COMPONENT))
    if stack.spec.redis.metrics.enabled:
        # Every Redis pod's exporter sidecar, replicas included: a missing master or two
        # masters are only visible across all of them (alerts.redis_alerts).
        name = names.redis_pod_monitor(stack.name)
        out.append(_pod_monitor(stack, name, names.REDIS_COMPONENT))
    return out


def _pod_monitor(stack: Stack, name: str, component: str) -> Manifest:
    """A PodMonitor on the ``metrics`` port of every pod of ``component`` (standbys too)."""
    spec = stack.spec.monitoring.service_monitor
    return {
        "apiVersion": API_VERSION,
        "kind": "PodMonitor",
        "metadata": _metadata(stack, name, spec.labels),
        "spec": {
            "selector": {"matchLabels": pods.selector(stack, component)},
            "namespaceSelector": {"matchNames": [stack.namespace]},
            "podMetricsEndpoints": [_endpoint(spec.interval)],
        },
    }


def manifests(stack: Stack) -> list[Manifest]:
    """The monitors, the PrometheusRule and the dashboards, each when enabled in spec.monitoring."""
    monitoring = stack.spec.monitoring
    out = _monitors(stack) if monitoring.service_monitor.enabled else []
    if monitoring.prometheus_rule.enabled:
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": "PrometheusRule",
                "metadata": _metadata(
                    stack, names.prometheus_rule(stack.name), monitoring.prometheus_rule.labels
                ),
                "spec": {"groups": [{"name": f"tradingstack.{stack.name}",
                                     "rules": alerts.rules(stack)}]},
            }
        )  # fmt: skip
    if monitoring.dashboards.enabled:
        out += dashboards.config_maps(stack)
    return out
