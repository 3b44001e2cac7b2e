"""What the API server does with a TradingStack before storing it, as far as the CRD says.

Defaulting (the structural defaulting algorithm of apiextensions-apiserver), then the
openAPIV3Schema (checked with jsonschema), then the CEL rules (evaluated with cel-python).
kubectl's strict field validation is emulated by refusing unknown fields.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import celpy.adapter
import jsonschema
import yaml
from celpy import celtypes

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "tradingstack.io_tradingstacks.yaml"

Schema = dict[str, Any]


@dataclass(frozen=True)
class CrdProblem:
    """Why the API server would refuse the object: a field path and a message."""

    path: str
    message: str
    from_cel: bool = False


def load_crd() -> Schema:
    """The committed CRD file, as shipped."""
    crd: Schema = yaml.safe_load(CRD_FILE.read_text())
    return crd


def openapi_schema(crd: Schema) -> Schema:
    (version,) = crd["spec"]["versions"]
    schema: Schema = version["schema"]["openAPIV3Schema"]
    return schema


def apply_defaults(value: Any, schema: Schema) -> None:
    """Fill defaults in place, recursing into defaulted values as the API server does."""
    if isinstance(value, dict):
        props: dict[str, Schema] = schema.get("properties", {})
        for name, prop in props.items():
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in props:
                apply_defaults(item, props[name])
            elif isinstance(extra, dict):
                apply_defaults(item, extra)
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            apply_defaults(item, schema["items"])


def to_jsonschema(node: Schema) -> Schema:
    """Map the OpenAPI v3.0 dialect and the Kubernetes extensions onto Draft 2020-12."""
    out = dict(node)
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("exclusiveMinimum", False) is True:
        out["exclusiveMinimum"] = out.pop("minimum")
    if out.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if "properties" in out:
        out["properties"] = {k: to_jsonschema(v) for k, v in out["properties"].items()}
        out["additionalProperties"] = False  # kubectl's strict field validation
    if isinstance(out.get("items"), dict):
        out["items"] = to_jsonschema(out["items"])
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = to_jsonschema(out["additionalProperties"])
    return out


def _path(parts: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")


def _schema_problems(obj: Schema, schema: Schema) -> list[CrdProblem]:
    problems = []
    validator = jsonschema.Draft202012Validator(to_jsonschema(schema))
    for error in validator.iter_errors(obj):
        path = _path(error.absolute_path)
        instance = error.instance
        if error.validator == "required" and isinstance(instance, dict):
            missing = [p for p in error.validator_value if p not in instance]
            path = ".".join([path, *missing])
        elif error.validator == "additionalProperties" and isinstance(instance, dict):
            unknown = sorted(set(instance) - set(error.schema.get("properties", {})))
            path = ".".join([path, *unknown])
        problems.append(CrdProblem(path, error.message))
    return problems


def _to_cel(value: Any, schema: Schema) -> Any:
    # The API server types CEL values by the schema: a `number` is a double even when whole.
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", {})
        return celtypes.MapType(
            {
                celtypes.StringType(k): _to_cel(
                    v, props.get(k, extra if isinstance(extra, dict) else {})
                )
                for k, v in value.items()
            }
        )
    if isinstance(value, list):
        return celtypes.ListType([_to_cel(v, schema.get("items", {})) for v in value])
    if schema.get("type") == "number" and isinstance(value, int):
        return celtypes.DoubleType(value)
    return celpy.adapter.json_to_cel(value)


def _cel_problems(value: Any, schema: Schema, path: str) -> list[CrdProblem]:
    problems = []
    env = celpy.Environment()
    for rule in schema.get("x-kubernetes-validations", []):
        activation = {"self": _to_cel(value, schema)}
        if not env.program(env.compile(rule["rule"])).evaluate(activation):
            message = str(env.program(env.compile(rule["messageExpression"])).evaluate(activation))
            problems.append(CrdProblem(path + rule.get("fieldPath", ""), message, from_cel=True))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name, item in value.items():
            sub = props.get(name, schema.get("additionalProperties"))
            if isinstance(sub, dict):
                problems += _cel_problems(item, sub, f"{path}.{name}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += _cel_problems(item, schema["items"], f"{path}[{i}]")
    return problems


def admit(manifest: Schema, crd: Schema) -> tuple[Schema, list[CrdProblem]]:
    """The object as it would be stored, and why it would be refused (empty: admitted)."""
    schema = openapi_schema(crd)
    obj = copy.deepcopy(manifest)
    apply_defaults(obj, schema)
    problems = _schema_problems(obj, schema)
    if not problems:  # CEL only sees objects of the declared types
        problems = _cel_problems(obj, schema, "")
    return obj, [CrdProblem(p.path.lstrip("."), p.message, p.from_cel) for p in problems]
