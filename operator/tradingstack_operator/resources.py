"""Where each kind of child lives in the Kubernetes API, and how children are labelled.

Defined once: the renderer labels children with :func:`child_labels`, the
reconciler lists them back with :func:`stack_selector`, the RBAC in the chart
grants exactly the kinds listed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .spec.stack import GROUP

FIELD_MANAGER = "tradingstack-operator"
#: The prometheus-operator's API group: optional, served only where its CRDs are installed.
MONITORING_GROUP = "monitoring.coreos.com"

MANAGED_BY = "app.kubernetes.io/managed-by"
STACK_LABEL = f"{GROUP}/stack"
COMPONENT_LABEL = "app.kubernetes.io/component"


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """The REST path of the collection, or of one object when ``name`` is given."""
        base = f"/apis/{self.api_version}" if self.group else f"/api/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


#: Every kind the operator creates, in the order children are applied (Secrets and
#: config before the workloads that mount them).
CHILD_RESOURCES: tuple[Resource, ...] = (
    Resource("v1", "Secret", "secrets"),
    Resource("v1", "ConfigMap", "configmaps"),
    Resource("v1", "ServiceAccount", "serviceaccounts"),
    Resource("rbac.authorization.k8s.io/v1", "Role", "roles"),
    Resource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    Resource("v1", "Service", "services"),
    Resource("apps/v1", "StatefulSet", "statefulsets"),
    Resource("apps/v1", "Deployment", "deployments"),
    Resource("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    Resource("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
    Resource(f"{MONITORING_GROUP}/v1", "ServiceMonitor", "servicemonitors"),
    Resource(f"{MONITORING_GROUP}/v1", "PodMonitor", "podmonitors"),
    Resource(f"{MONITORING_GROUP}/v1", "PrometheusRule", "prometheusrules"),
)

_BY_KIND = {(r.api_version, r.kind): r for r in CHILD_RESOURCES}


def resource_of(manifest: dict[str, object]) -> Resource:
    key = (str(manifest.get("apiVersion")), str(manifest.get("kind")))
    try:
        return _BY_KIND[key]
    except KeyError:
        raise ValueError(f"the operator does not manage {key[1]} ({key[0]})") from None


def child_labels(stack: str, component: str) -> dict[str, str]:
    return {
        MANAGED_BY: FIELD_MANAGER,
        STACK_LABEL: stack,
        COMPONENT_LABEL: component,
        "app.kubernetes.io/part-of": "tradingstack",
    }


def adopt(child: dict[str, Any], owner: Mapping[str, Any]) -> None:
    """Make ``owner`` the child's controller, so deleting the stack deletes the child."""
    meta = owner["metadata"]
    reference = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    references = child["metadata"].setdefault("ownerReferences", [])
    if reference not in references:
        references.append(reference)


def stack_selector(stack: str) -> str:
    """Label selector for every child of one stack."""
    return f"{MANAGED_BY}={FIELD_MANAGER},{STACK_LABEL}={stack}"
