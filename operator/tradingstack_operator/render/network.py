"""NetworkPolicies: Redis only for this stack's pods and the operator; metrics ports only
for the scraper's namespaces (spec.monitoring.scraperNamespaceLabels)."""

from __future__ import annotations

from ..resources import COMPONENT_LABEL, STACK_LABEL
from . import names, pods
from .stack import Manifest, Stack

#: The label the operator's chart puts on the operator's pods (it asks Sentinel for the
#: master to report it in status).
OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "tradingstack-operator"}
COMPONENT = "network"
#: Set by the API server on every namespace (Kubernetes 1.22+), so it cannot be forged.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _tcp(*ports: int) -> list[Manifest]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _redis(stack: Stack) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": pods.metadata(stack, names.redis_network_policy(stack.name), COMPONENT),
        "spec": {
            "podSelector": {"matchLabels": pods.selector(stack, names.REDIS_COMPONENT)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        # Every pod of this stack, Redis itself included (replication,
                        # sentinel gossip), in the stack's namespace.
                        {"podSelector": {"matchLabels": {STACK_LABEL: stack.name}}},
                        # The operator, in its own namespace only: a pod elsewhere that
                        # merely carries its labels gets nothing.
                        {
                            "namespaceSelector": {
                                "matchLabels": {
                                    NAMESPACE_NAME_LABEL: stack.options.operator_namespace
                                }
                            },
                            "podSelector": {"matchLabels": dict(OPERATOR_POD_LABELS)},
                        },
                    ],
                    "ports": _tcp(names.REDIS_PORT, names.SENTINEL_PORT),
                }
            ],
        },
    }


def _metrics(stack: Stack) -> Manifest:
    """Metrics ports: workers' and bots' HTTP port, the Redis exporter's, for the scraper."""
    scrapers = stack.spec.monitoring.scraper_namespace_labels
    rule: Manifest = {"ports": _tcp(names.HTTP_PORT, names.REDIS_METRICS_PORT)}
    if scrapers:
        rule["from"] = [{"namespaceSelector": {"matchLabels": dict(scrapers)}}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": pods.metadata(stack, names.metrics_network_policy(stack.name), COMPONENT),
        "spec": {
            "podSelector": {
                "matchLabels": {STACK_LABEL: stack.name},
                "matchExpressions": [
                    {
                        "key": COMPONENT_LABEL,
                        "operator": "In",
                        "values": [*names.WORKER_KINDS, names.BOT_COMPONENT, names.REDIS_COMPONENT],
                    }
                ],
            },
            "policyTypes": ["Ingress"],
            "ingress": [rule],
        },
    }


def manifests(stack: Stack) -> list[Manifest]:
    return [_redis(stack), _metrics(stack)]
