"""Pure helpers for the API emulator: patch merging, field paths, selectors, Status bodies.

No I/O and no emulator state here, so each rule can be read (and fixed) on its own.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

Body = dict[str, Any]
Path = tuple[str, ...]

# Fields the API server owns: clients cannot set or change them through writes.
SERVER_METADATA = (
    "uid",
    "creationTimestamp",
    "generation",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)

REASONS = {
    400: "BadRequest",
    404: "NotFound",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_body(code: int, message: str, reason: str | None = None) -> Body:
    """A metav1.Status failure, as the API server answers errors."""
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "code": code,
        "reason": reason or REASONS.get(code, "Unknown"),
        "message": message,
        "details": {},
    }


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: dicts merge, null deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def leaves(body: Mapping[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    """Every leaf of a nested dict by its path; lists count as atomic leaves (as SSA does)."""
    found: dict[Path, Any] = {}
    for key, value in body.items():
        path = (*prefix, key)
        if isinstance(value, Mapping) and value:
            found.update(leaves(value, path))
        else:
            found[path] = value
    return found


def get_path(body: Mapping[str, Any], path: Path) -> Any:
    node: Any = body
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def changed_paths(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[Path]:
    """Leaf paths whose value differs between two bodies (added, changed or removed)."""
    before, after = leaves(old), leaves(new)
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def prune(body: Body, previous: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Remove from body what a manager applied before but no longer applies (SSA semantics)."""
    for key, old_value in previous.items():
        if key not in current:
            body.pop(key, None)
        elif isinstance(old_value, Mapping) and isinstance(current[key], Mapping):
            child = body.get(key)
            if isinstance(child, dict):
                prune(child, old_value, current[key])


def user_fields(body: Mapping[str, Any]) -> Body:
    """The body without the server-owned metadata: what field ownership is tracked on."""
    result = copy.deepcopy(dict(body))
    meta = result.get("metadata", {})
    for key in (*SERVER_METADATA, "name", "namespace", "managedFields"):
        meta.pop(key, None)
    return result


def path_text(path: Path) -> str:
    return "." + ".".join(path)


# Requirements are split at commas outside parentheses: "a in (x,y),b=c" is two of them.
_REQUIREMENT_SPLIT = re.compile(r",(?![^()]*\))")
_SET_REQUIREMENT = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY_REQUIREMENT = re.compile(r"^\s*([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)\s*$")
_EXISTS_REQUIREMENT = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")

Matcher = Callable[[Mapping[str, str]], bool]


def label_selector(selector: str) -> Matcher:
    """Compile a label selector (equality- and set-based) into a predicate over labels."""
    if not selector.strip():
        return lambda labels: True
    checks: list[Matcher] = [_requirement(text) for text in _REQUIREMENT_SPLIT.split(selector)]
    return lambda labels: all(check(labels) for check in checks)


def _requirement(text: str) -> Matcher:
    if match := _SET_REQUIREMENT.match(text):
        key, operator, raw_values = match.groups()
        values = {value.strip() for value in raw_values.split(",")}
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY_REQUIREMENT.match(text):
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS_REQUIREMENT.match(text):
        negated, key = match.groups()
        return lambda labels: (key in labels) != bool(negated)
    raise ValueError(f"unable to parse requirement: {text!r}")


def field_selector(selector: str) -> Callable[[Mapping[str, Any]], bool]:
    """Compile a field selector (`metadata.name=x,status.phase!=y`) into a predicate."""
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for text in filter(str.strip, selector.split(",")):
        match = _EQUALITY_REQUIREMENT.match(text)
        if match is None:
            raise ValueError(f"invalid field selector: {text!r}")
        field, operator, value = match.groups()
        checks.append(_field_check(tuple(field.split(".")), value, negated=operator == "!="))
    return lambda body: all(check(body) for check in checks)


def _field_check(path: Path, value: str, negated: bool) -> Callable[[Mapping[str, Any]], bool]:
    return lambda body: (_field_text(body, path) == value) != negated


def _field_text(body: Mapping[str, Any], path: Path) -> str:
    value = get_path(body, path)
    return "" if value is None else str(value)
