"""The committed CRD is what the models generate, and Kubernetes would take it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tradingstack_operator import crd
from tradingstack_operator.spec import RULES, TRANSITION_RULES

Schema = dict[str, Any]
REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "tradingstack.io_tradingstacks.yaml"


def load_crd() -> Schema:
    """The committed CRD file, as shipped."""
    loaded: Schema = yaml.safe_load(CRD_FILE.read_text())
    return loaded


def openapi_schema(definition: Schema) -> Schema:
    (version,) = definition["spec"]["versions"]
    schema: Schema = version["schema"]["openAPIV3Schema"]
    return schema


REGENERATE = "python -m tradingstack_operator.crd > crds/tradingstack.io_tradingstacks.yaml"
# Keys a structural schema may not use, or that only mean something under other rules.
FORBIDDEN = {"$ref", "$defs", "oneOf", "allOf", "not", "uniqueItems", "const", "title", "nullable"}


def _nodes(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    yield path, node
    for name, prop in node.get("properties", {}).items():
        yield from _nodes(prop, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}{{}}")


def test_committed_crd_is_freshly_generated() -> None:
    assert CRD_FILE.read_text() == crd.render(), (
        f"{CRD_FILE.relative_to(REPO)} is stale: regenerate it with `{REGENERATE}`"
    )


def test_generation_is_deterministic() -> None:
    assert crd.render() == crd.render()


@pytest.mark.parametrize("version", ["1.30", "1.37"])
def test_crd_is_a_valid_apiextensions_object(version: str) -> None:
    assert kubernetes_validate.validate(load_crd(), version, strict=True) == version


def test_kubernetes_validate_refuses_a_broken_crd() -> None:
    broken = copy.deepcopy(load_crd())
    broken["spec"]["versions"][0]["subresource"] = {"status": {}}  # typo: subresources
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.37", strict=True)


def test_schema_is_structural() -> None:
    for path, node in _nodes(openapi_schema(load_crd())):
        assert not FORBIDDEN & node.keys(), f"{path}: {FORBIDDEN & node.keys()}"
        if node.get("x-kubernetes-int-or-string"):
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
            assert "type" not in node, path
            continue
        assert "anyOf" not in node, path
        assert node.get("type") in {"object", "array", "string", "integer", "number", "boolean"}
        assert not ("properties" in node and "additionalProperties" in node), path
        if node["type"] == "array":
            assert isinstance(node.get("items"), dict), path


def test_spec_lists_and_strings_are_bounded_for_cel_cost() -> None:
    spec = openapi_schema(load_crd())["properties"]["spec"]
    for path, node in _nodes(spec, "spec"):
        if node.get("type") == "array":
            assert "maxItems" in node, f"{path} needs maxItems"
        if node.get("type") == "string":
            assert "maxLength" in node or "enum" in node, f"{path} needs maxLength"
        if node.get("type") == "object" and "additionalProperties" in node:
            assert "maxProperties" in node, f"{path} needs maxProperties"


def test_cel_rules_sit_on_spec_and_point_at_real_fields() -> None:
    spec = openapi_schema(load_crd())["properties"]["spec"]
    paths = {path for path, _ in _nodes(spec)}
    rules = spec["x-kubernetes-validations"]
    assert len(rules) == len(RULES) + len(TRANSITION_RULES)
    # Transition rules, and only they, read oldSelf (the API server runs them on updates).
    assert [("oldSelf" in r["rule"]) for r in rules] == [False] * len(RULES) + [True] * len(
        TRANSITION_RULES
    )
    for rule in rules:
        assert rule["fieldPath"] in paths, rule


def test_printer_columns_read_fields_the_schema_has() -> None:
    version = load_crd()["spec"]["versions"][0]
    paths = {path for path, _ in _nodes(version["schema"]["openAPIV3Schema"])}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    # What Redis holds, as the Halted condition reports it; not what the spec asks.
    assert columns["Halted"] == '.status.conditions[?(@.type=="Halted")].status'
    assert {".status.conditions[].status", ".status.conditions[].type"} <= paths
    for name in ("Phase", "Redis Master", "Age"):
        assert columns[name] in paths or columns[name] == ".metadata.creationTimestamp", name
    assert version["subresources"] == {"status": {}}


def test_names_and_scope() -> None:
    spec = load_crd()["spec"]
    assert spec["group"] == "tradingstack.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["shortNames"] == ["ts"]
    assert spec["names"]["plural"] == "tradingstacks"
    assert spec["versions"][0]["name"] == "v1alpha1"
