"""NetworkPolicies: Redis only for this stack's pods and the operator; metrics for all."""

from __future__ import annotations

from ..resources import COMPONENT_LABEL, STACK_LABEL
from . import names, pods
from .stack import Manifest, Stack

#: The label the operator's chart puts on the operator's pods (it asks Sentinel for the
#: master to report it in status).
OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "tradingstack-operator"}
COMPONENT = "network"


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
                        # The operator, in whatever namespace it runs.
                        {
                            "namespaceSelector": {},
                            "podSelector": {"matchLabels": dict(OPERATOR_POD_LABELS)},
                        },
                    ],
                    "ports": _tcp(names.REDIS_PORT, names.SENTINEL_PORT),
                }
            ],
        },
    }


def _metrics(stack: Stack) -> Manifest:
    """Workers and bots serve nothing but their HTTP port, open to any scraper."""
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
                        "values": [*names.WORKER_KINDS, names.BOT_COMPONENT],
                    }
                ],
            },
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": _tcp(names.HTTP_PORT)}],
        },
    }


def manifests(stack: Stack) -> list[Manifest]:
    return [_redis(stack), _metrics(stack)]
