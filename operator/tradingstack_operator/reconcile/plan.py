"""What to write, decided without I/O: desired children against the observed ones.

A child is written only when a field we render differs from the server's copy.
Fields the server adds (defaults, status, managedFields, uid) are not ours and
are ignored, so a resync over an unchanged stack writes nothing; a hand edit
of a field we render is a difference and is applied back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..resources import resource_of

Manifest = dict[str, Any]
Key = tuple[str, str, str]  # (apiVersion, kind, name)

#: Metadata the server owns; never compared.
_SERVER_METADATA = {
    "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
    "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
}  # fmt: skip


def key_of(manifest: Mapping[str, Any]) -> Key:
    return (
        str(manifest["apiVersion"]),
        str(manifest["kind"]),
        str(manifest["metadata"]["name"]),
    )


def differences(desired: Any, actual: Any, path: str = "") -> list[str]:
    """Paths where ``actual`` does not carry what ``desired`` asks for.

    Mappings compare the keys we set; lists compare element by element and must
    have the same length (a removed container or port is a difference).
    """
    if isinstance(desired, Mapping):
        if not isinstance(actual, Mapping):
            return [path or "."]
        found: list[str] = []
        for name, want in desired.items():
            if path == ".metadata" and name in _SERVER_METADATA:
                continue
            found += differences(want, actual.get(name), f"{path}.{name}")
        return found
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return [path]
        return [d for i, (w, a) in enumerate(zip(desired, actual, strict=True))
                for d in differences(w, a, f"{path}[{i}]")]  # fmt: skip
    if desired != actual and not _same_scalar(desired, actual):
        return [path]
    return []


def _same_scalar(desired: Any, actual: Any) -> bool:
    # Servers echo numbers in int-or-string fields either way ("8080" vs 8080);
    # booleans are ints to Python but never interchangeable with strings.
    if isinstance(desired, bool) or isinstance(actual, bool):
        return False
    scalar = int | str
    return (
        isinstance(desired, scalar) and isinstance(actual, scalar) and str(desired) == str(actual)
    )


@dataclass(frozen=True)
class Plan:
    apply: list[Manifest] = field(default_factory=list)
    delete: list[Manifest] = field(default_factory=list)
    unchanged: int = 0
    reasons: dict[Key, list[str]] = field(default_factory=dict)

    @property
    def is_noop(self) -> bool:
        return not self.apply and not self.delete


def plan(desired: Iterable[Manifest], observed: Iterable[Manifest]) -> Plan:
    """Children to apply (missing or drifted) and to delete (ours, no longer desired)."""
    actual = {key_of(m): m for m in observed}
    to_apply: list[Manifest] = []
    reasons: dict[Key, list[str]] = {}
    unchanged = 0
    wanted: set[Key] = set()
    for manifest in desired:
        resource_of(manifest)  # refuse kinds we could not list back
        key = key_of(manifest)
        wanted.add(key)
        current = actual.get(key)
        diff = ["(missing)"] if current is None else differences(manifest, current)
        if diff:
            to_apply.append(manifest)
            reasons[key] = diff
        else:
            unchanged += 1
    stale = [m for k, m in actual.items() if k not in wanted]
    return Plan(apply=to_apply, delete=stale, unchanged=unchanged, reasons=reasons)
