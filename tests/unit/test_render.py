"""The renderer over the corpus: strict schema validity, determinism, labels, pod security."""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from tests.unit.render_corpus import ALL, RENDER_CORPUS, load, pod_spec, workloads

from tradingstack_operator.render import render
from tradingstack_operator.resources import STACK_LABEL, child_labels, resource_of

CORE_GROUPS = ("v1", "apps/v1", "policy/v1", "networking.k8s.io/v1",
               "rbac.authorization.k8s.io/v1")  # fmt: skip
VERSIONS = ("1.30", "1.37")
IDS = [p.parent.name + "/" + p.stem for p in ALL]


def test_corpus_has_every_case() -> None:
    assert {p.stem for p in RENDER_CORPUS} >= {
        "minimal", "full", "single-redis", "halted", "monitoring-off",
    }  # fmt: skip


@pytest.mark.parametrize("path", ALL, ids=IDS)
@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_strictly(path: Path, version: str) -> None:
    for manifest in render(load(path)):
        if manifest["apiVersion"] in CORE_GROUPS:
            kubernetes_validate.validate(manifest, version, strict=True)
        else:
            # kubernetes-validate has no Prometheus Operator schemas: see test_render_monitoring.
            assert manifest["apiVersion"] == "monitoring.coreos.com/v1"


def test_strict_validation_catches_an_unknown_field() -> None:
    """The validation above can fail: a misspelt field is refused."""
    deployment = next(m for m in render(load(RENDER_CORPUS[0])) if m["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["enableServiceLink"] = False
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.30", strict=True)


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_render_is_deterministic_and_names_are_unique(path: Path) -> None:
    first, second = render(load(path)), render(load(path))
    assert first == second
    keys = [(m["kind"], m["metadata"]["name"]) for m in first]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_every_child_is_a_managed_kind_with_the_stack_labels(path: Path) -> None:
    stack = load(path)
    for manifest in render(stack):
        resource_of(manifest)  # raises for a kind the operator could not list back
        labels = manifest["metadata"]["labels"]
        component = labels["app.kubernetes.io/component"]
        assert child_labels(stack.name, component).items() <= labels.items()
        assert manifest["metadata"]["namespace"] == stack.namespace
        assert "ownerReferences" not in manifest["metadata"]


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_pods_are_non_root_read_only_and_without_service_links(path: Path) -> None:
    stack = load(path)
    for workload in workloads(render(stack)):
        pod = pod_spec(workload)
        assert pod["enableServiceLinks"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        # Only Lease holders talk to the API server: the bots and the singletons.
        holds_lease = component in ("bot", "clusters", "governor")
        assert pod["automountServiceAccountToken"] is holds_lease
        assert {"name": "tmp", "mountPath": "/tmp"} in pod["containers"][0]["volumeMounts"]
        template_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert template_labels[STACK_LABEL] == stack.name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert security.get("runAsNonRoot", pod["securityContext"]["runAsNonRoot"])


def test_placement_reaches_every_worker_pod_beside_the_spread() -> None:
    stack = load(next(p for p in RENDER_CORPUS if p.stem == "full"))
    deployments = [w for w in workloads(render(stack)) if w["kind"] == "Deployment"]
    assert deployments
    for workload in deployments:
        pod = pod_spec(workload)
        assert pod["nodeSelector"] == {"pool": "trading"}
        assert pod["tolerations"][0]["key"] == "dedicated"
        assert "requiredDuringSchedulingIgnoredDuringExecution" in pod["affinity"]["nodeAffinity"]
        spread = pod["affinity"]["podAntiAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"
        ]
        term = spread[0]["podAffinityTerm"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]


def test_render_does_not_mutate_the_spec_placement() -> None:
    stack = load(next(p for p in RENDER_CORPUS if p.stem == "full"))
    before = copy.deepcopy(stack.spec.placement.affinity)
    render(stack)
    render(stack)
    assert stack.spec.placement.affinity == before


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_nothing_rendered_is_empty(path: Path) -> None:
    """The API server drops empty maps and lists: rendering one would drift forever."""

    def walk(value: object, where: str) -> None:
        if isinstance(value, dict):
            assert value or where.endswith("namespaceSelector"), f"empty map at {where}"
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            assert value, f"empty list at {where}"
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    for manifest in render(load(path)):
        walk(manifest, f"{manifest['kind']}/{manifest['metadata']['name']}")
