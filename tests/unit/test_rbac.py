"""The one RBAC definition: every child kind covered, and a valid Role on the wire."""

from __future__ import annotations

import kubernetes_validate  # type: ignore[import-untyped]

from tradingstack_operator import rbac
from tradingstack_operator.resources import CHILD_RESOURCES


def _allowed(rules: list[rbac.Rule], group: str, resource: str, verb: str) -> bool:
    return any(
        group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules
    )


def test_every_child_kind_can_be_applied_listed_watched_and_deleted() -> None:
    rules = rbac.namespaced_rules(peering=False)
    for resource in CHILD_RESOURCES:
        for verb in ("create", "get", "list", "watch", "patch", "delete"):
            assert _allowed(rules, resource.group, resource.plural, verb), (resource, verb)
    assert not _allowed(rules, "", "secrets", "update")  # applies are patches
    assert not _allowed(rules, "", "pods", "list")  # the children's pods are not read


def test_peering_rules_only_when_peering() -> None:
    assert not _allowed(rbac.namespaced_rules(peering=False), "kopf.dev", "kopfpeerings", "list")
    assert _allowed(rbac.namespaced_rules(peering=True), "kopf.dev", "kopfpeerings", "list")
    assert _allowed(rbac.cluster_rules(peering=True), "kopf.dev", "clusterkopfpeerings", "watch")


def test_the_role_is_a_valid_kubernetes_object() -> None:
    kubernetes_validate.validate(rbac.role("op", "ns", peering=True), "1.30", strict=True)
