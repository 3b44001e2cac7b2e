"""Strict validation of what the chart and the renderer emit, for Kubernetes 1.30 and 1.37.

Built-in kinds go through kubernetes-validate's OpenAPI schemas in strict mode (unknown
fields fail). Custom resources go through their CRD's openAPIV3Schema with jsonschema,
unknown fields refused as the API server's strict field validation does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]

VERSIONS = ("1.30", "1.37")
CUSTOM_GROUPS = ("monitoring.coreos.com", "kopf.dev", "tradingstack.io")


def _strict(node: Any) -> Any:
    """An openAPIV3Schema as JSON Schema: int-or-string, and no unknown properties."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in node and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    return out


def custom_validator(crd: Mapping[str, Any]) -> jsonschema.Draft7Validator:
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    schema = _strict(version["schema"]["openAPIV3Schema"])
    # metadata is the API server's, not the CRD's: accept any object there.
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    for key in ("apiVersion", "kind"):
        schema["properties"][key] = {"type": "string"}
    return jsonschema.Draft7Validator(schema)


def group_of(manifest: Mapping[str, Any]) -> str:
    return str(manifest["apiVersion"]).rpartition("/")[0]


def validate_all(
    manifests: Iterable[Mapping[str, Any]], crds: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Every problem of every manifest, for every Kubernetes version; [] when all pass.

    ``crds`` maps a custom kind to its CRD; a custom kind without one is a problem.
    """
    problems: list[str] = []
    for manifest in manifests:
        where = f"{manifest['kind']}/{manifest['metadata'].get('name')}"
        if group_of(manifest) in CUSTOM_GROUPS:
            crd = crds.get(str(manifest["kind"]))
            if crd is None:
                problems.append(f"{where}: no CRD to validate it against")
                continue
            problems += [f"{where}: {e.message} at {list(e.absolute_path)}"
                         for e in custom_validator(crd).iter_errors(dict(manifest))]  # fmt: skip
            continue
        for version in VERSIONS:
            try:
                kubernetes_validate.validate(dict(manifest), version, strict=True)
            except kubernetes_validate.ValidationError as err:
                problems.append(f"{where} ({version}): {err.message} at {list(err.path)}")
    return problems
