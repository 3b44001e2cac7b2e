"""The resources the emulator serves: what kopf needs and what the operator manages."""

from __future__ import annotations

import kmock

_ALL_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")

# (group/version/plural, kind, namespaced, subresources, short names).
# Status subresources follow the real API server: Deployments, StatefulSets, PDBs and
# our CRD have one (status writes go to /status), ConfigMaps and Secrets have none.
_DECLARATIONS: tuple[tuple[str, str, bool, tuple[str, ...], tuple[str, ...]], ...] = (
    # What kopf itself reads or writes.
    ("v1/namespaces", "Namespace", False, ("status",), ("ns",)),
    ("v1/events", "Event", True, (), ("ev",)),
    (
        "apiextensions.k8s.io/v1/customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("status",),
        ("crd", "crds"),
    ),
    # What the TradingStack operator manages.
    ("v1/secrets", "Secret", True, (), ()),
    ("v1/configmaps", "ConfigMap", True, (), ("cm",)),
    ("v1/services", "Service", True, ("status",), ("svc",)),
    ("v1/serviceaccounts", "ServiceAccount", True, (), ("sa",)),
    ("apps/v1/statefulsets", "StatefulSet", True, ("status", "scale"), ("sts",)),
    ("apps/v1/deployments", "Deployment", True, ("status", "scale"), ("deploy",)),
    ("policy/v1/poddisruptionbudgets", "PodDisruptionBudget", True, ("status",), ("pdb",)),
    ("networking.k8s.io/v1/networkpolicies", "NetworkPolicy", True, (), ("netpol",)),
    ("coordination.k8s.io/v1/leases", "Lease", True, (), ()),
    ("rbac.authorization.k8s.io/v1/roles", "Role", True, (), ()),
    ("rbac.authorization.k8s.io/v1/rolebindings", "RoleBinding", True, (), ()),
    ("monitoring.coreos.com/v1/servicemonitors", "ServiceMonitor", True, (), ("smon",)),
    ("monitoring.coreos.com/v1/podmonitors", "PodMonitor", True, (), ("pmon",)),
    ("monitoring.coreos.com/v1/prometheusrules", "PrometheusRule", True, (), ("promrule",)),
    ("tradingstack.io/v1alpha1/tradingstacks", "TradingStack", True, ("status",), ("ts",)),
)

TRADINGSTACKS = kmock.resource("tradingstack.io/v1alpha1/tradingstacks")
CONFIGMAPS = kmock.resource("v1/configmaps")
SECRETS = kmock.resource("v1/secrets")
DEPLOYMENTS = kmock.resource("apps/v1/deployments")
NAMESPACES = kmock.resource("v1/namespaces")
EVENTS = kmock.resource("v1/events")


def declare_all(emulator: kmock.KubernetesScaffold) -> None:
    """Register every resource above, with the discovery details kopf reads."""
    for key, kind, namespaced, subresources, shortnames in _DECLARATIONS:
        emulator.resources[key] = kmock.ResourceInfo(
            kind=kind,
            singular=kind.lower(),
            namespaced=namespaced,
            verbs=_ALL_VERBS,
            subresources=subresources,
            shortnames=shortnames,
        )
