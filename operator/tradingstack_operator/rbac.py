"""The operator's RBAC: the one definition that the chart ships and the tests bind.

Every verb here is one the operator (kopf and our reconciler) sends; nothing more.
The chart renders these rules (``python -m tradingstack_operator.rbac``), and the
control-plane tier binds exactly them to the ServiceAccount it runs the operator as,
so a missing verb fails a test with the API server's own 403.

Kubernetes refuses to let a subject create a Role granting more than it holds itself
(RBAC escalation prevention), so the operator also holds what it grants its children
(the bots' Lease access).
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from .resources import CHILD_RESOURCES, Resource
from .spec import GROUP, PLURAL

Rule = dict[str, list[str]]

#: kopf's peering objects: which operator of several handles a stack.
PEERING_GROUP = "kopf.dev"


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> Rule:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _children_rules() -> list[Rule]:
    """Server-side apply (patch; create too, since an apply that creates an object is
    authorized as a create), list and watch (kopf's indexes of the children; a LIST by
    label for a kind not served at start), read one (the auth Secret), delete what the
    spec no longer renders."""
    by_group: dict[str, list[Resource]] = {}
    for resource in CHILD_RESOURCES:
        by_group.setdefault(resource.group, []).append(resource)
    verbs = ["create", "get", "list", "watch", "patch", "delete"]
    return [
        _rule([group], sorted(r.plural for r in resources), verbs)
        for group, resources in by_group.items()
    ]


def namespaced_rules(*, peering: bool) -> list[Rule]:
    """Rules for the namespaces the operator watches (a Role in each, or a ClusterRole)."""
    rules = [
        # kopf watches the stacks, adds its finalizer; the reconciler reads one fresh.
        _rule([GROUP], [PLURAL], ["get", "list", "watch", "patch"]),
        _rule([GROUP], [f"{PLURAL}/status"], ["get", "patch"]),
        # One Event per failure or transition, posted by kopf.
        _rule([""], ["events"], ["create"]),
        *_children_rules(),
        # Granted to each bot's ServiceAccount (its leader Lease), so held by the operator.
        _rule(["coordination.k8s.io"], ["leases"], ["get", "create", "update"]),
    ]
    if peering:
        rules.append(_rule([PEERING_GROUP], ["kopfpeerings"], ["get", "list", "watch", "patch"]))
    return rules


def cluster_rules(*, peering: bool) -> list[Rule]:
    """Extra rules of an operator that watches every namespace (a ClusterRole)."""
    rules = [
        # kopf notices CRDs that appear or go (for the stacks and the peering objects).
        _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["list", "watch"]),
    ]
    if peering:
        rules.append(
            _rule([PEERING_GROUP], ["clusterkopfpeerings"], ["get", "list", "watch", "patch"])
        )
    return rules


def role(name: str, namespace: str, *, peering: bool = False) -> dict[str, Any]:
    """A namespaced Role with :func:`namespaced_rules`."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": namespaced_rules(peering=peering),
    }


def main() -> None:
    """Print the rules for the chart: namespaced and cluster-wide, with and without peering."""
    document = {
        "namespaced": namespaced_rules(peering=False),
        "namespacedPeering": namespaced_rules(peering=True)[-1:],
        "cluster": cluster_rules(peering=False),
        "clusterPeering": cluster_rules(peering=True)[-1:],
    }
    sys.stdout.write(yaml.safe_dump(document, sort_keys=False))


if __name__ == "__main__":
    main()
