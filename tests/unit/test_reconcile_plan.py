"""The apply plan: write only what is missing or drifted, delete what is no longer ours."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tradingstack_operator.reconcile.plan import differences, plan
from tradingstack_operator.resources import Resource, resource_of, stack_selector


def deployment(name: str = "paper-gate", replicas: int = 2, image: str = "ts:1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "desk", "labels": {"a": "b"}},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "w", "image": image,
                                                  "ports": [{"containerPort": 8080}]}]}},
        },
    }  # fmt: skip


def as_served(manifest: dict[str, Any]) -> dict[str, Any]:
    """The object as an API server returns it: with defaults and server metadata added."""
    served = copy.deepcopy(manifest)
    served["metadata"] |= {"uid": "u-1", "resourceVersion": "42", "generation": 3,
                           "managedFields": [{"manager": "x"}]}  # fmt: skip
    container = served["spec"]["template"]["spec"]["containers"][0]
    container |= {"imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/x"}
    served["spec"]["strategy"] = {"type": "RollingUpdate"}
    served["status"] = {"readyReplicas": 2}
    return served


def test_an_unchanged_stack_plans_no_write() -> None:
    desired = [deployment()]
    result = plan(desired, [as_served(m) for m in desired])
    assert result.is_noop
    assert result.unchanged == 1


def test_a_missing_child_is_applied() -> None:
    result = plan([deployment()], [])
    assert [m["metadata"]["name"] for m in result.apply] == ["paper-gate"]
    assert result.reasons[("apps/v1", "Deployment", "paper-gate")] == ["(missing)"]


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda m: m["spec"].update(replicas=5), ".spec.replicas"),
        (lambda m: m["metadata"]["labels"].pop("a"), ".metadata.labels.a"),
        (lambda m: m["spec"]["template"]["spec"]["containers"].append({"name": "x"}),
         ".spec.template.spec.containers"),
        (lambda m: m["spec"]["template"]["spec"]["containers"][0].update(image="evil"),
         ".spec.template.spec.containers[0].image"),
    ],
)  # fmt: skip
def test_a_hand_edit_of_a_rendered_field_is_drift(edit: Any, path: str) -> None:
    served = as_served(deployment())
    edit(served)
    result = plan([deployment()], [served])
    assert len(result.apply) == 1
    assert result.reasons[("apps/v1", "Deployment", "paper-gate")] == [path]


def test_a_spec_change_applies_only_the_affected_child() -> None:
    before = [deployment("paper-gate"), deployment("paper-intel")]
    after = [deployment("paper-gate", image="ts:2"), deployment("paper-intel")]
    result = plan(after, [as_served(m) for m in before])
    assert [m["metadata"]["name"] for m in result.apply] == ["paper-gate"]
    assert result.unchanged == 1


def test_a_child_no_longer_desired_is_deleted() -> None:
    served = [as_served(deployment("paper-gate")), as_served(deployment("paper-bots-old"))]
    result = plan([deployment("paper-gate")], served)
    assert [m["metadata"]["name"] for m in result.delete] == ["paper-bots-old"]


def test_int_or_string_echoes_are_not_drift() -> None:
    assert differences({"port": 8080}, {"port": "8080"}) == []
    assert differences({"port": 8080}, {"port": 8081}) == [".port"]
    assert differences({"on": True}, {"on": "True"}) == [".on"]


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="does not manage Pod"):
        resource_of({"apiVersion": "v1", "kind": "Pod"})


def test_resource_paths_and_selector() -> None:
    deploy = resource_of(deployment())
    assert (
        deploy.path("desk", "paper-gate") == "/apis/apps/v1/namespaces/desk/deployments/paper-gate"
    )
    assert Resource("v1", "Secret", "secrets").path("desk") == "/api/v1/namespaces/desk/secrets"
    assert stack_selector("paper") == (
        "app.kubernetes.io/managed-by=tradingstack-operator,tradingstack.io/stack=paper"
    )
