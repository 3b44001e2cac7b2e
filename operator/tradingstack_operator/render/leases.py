"""RBAC of a Lease holder: a ServiceAccount that may hold one named Lease, and nothing else."""

from __future__ import annotations

from . import pods
from .stack import Manifest, Stack


def holder_rbac(
    stack: Stack, name: str, component: str, *, lease: str, bot: str | None = None
) -> list[Manifest]:
    """ServiceAccount, Role and RoleBinding ``name``: get and update the Lease ``lease`` only.

    ``create`` cannot be limited to a name (the object does not exist yet when RBAC is
    checked), so it is granted without ``resourceNames``; a holder can create other
    Leases but never read or take over one it does not name.
    """
    meta = pods.metadata(stack, name, component, bot)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta,
        "rules": [
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "resourceNames": [lease],
                "verbs": ["get", "update"],
            },
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": stack.namespace}],
    }
    return [pods.service_account(stack, name, component, bot), role, binding]
