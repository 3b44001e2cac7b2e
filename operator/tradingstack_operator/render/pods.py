"""What every pod of a stack shares: non-root security, /tmp, placement, the config hash.

Nothing rendered here may be an empty map or list, or a false plain bool: the API
server drops those, and the apply plan would then see a difference on every resync.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence

from ..resources import COMPONENT_LABEL, STACK_LABEL, child_labels
from ..spec.base import Resources
from ..spec.placement import PlacementSpec
from .stack import Manifest, Stack

#: The uid and gid every container runs as; the image owns nothing it needs to write.
RUN_AS = 10001
CONFIG_HASH = "tradingstack.io/config-hash"
BOT_LABEL = "tradingstack.io/bot"
TMP_VOLUME = {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}


def selector(stack: Stack, component: str, bot: str | None = None) -> dict[str, str]:
    """Selector labels: few and stable, because a workload's selector is immutable."""
    labels = {STACK_LABEL: stack.name, COMPONENT_LABEL: component}
    if bot is not None:
        labels[BOT_LABEL] = bot
    return labels


def labels(stack: Stack, component: str, bot: str | None = None) -> dict[str, str]:
    """The labels of a child and of its pods."""
    return {**child_labels(stack.name, component), **selector(stack, component, bot)}


def metadata(stack: Stack, name: str, component: str, bot: str | None = None) -> Manifest:
    return {"name": name, "namespace": stack.namespace, "labels": labels(stack, component, bot)}


def container_security() -> Manifest:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _pod_security(*, fs_group_on_mismatch: bool) -> Manifest:
    security: Manifest = {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if fs_group_on_mismatch:
        # Large volumes: chown only when the root of the volume is not ours yet.
        security["fsGroupChangePolicy"] = "OnRootMismatch"
    return security


def _affinity(placement: PlacementSpec, spread: Mapping[str, str], *, required: bool) -> Manifest:
    """The user's affinity plus a spread of the same component over nodes.

    ``required`` keeps two pods of the component off one node (Redis: losing a node
    must leave a Sentinel majority); otherwise the spread is only preferred.
    """
    affinity: Manifest = copy.deepcopy(dict(placement.affinity))
    anti = affinity.setdefault("podAntiAffinity", {})
    term = {"labelSelector": {"matchLabels": dict(spread)},
            "topologyKey": "kubernetes.io/hostname"}  # fmt: skip
    if required:
        anti.setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(term)
    else:
        anti.setdefault("preferredDuringSchedulingIgnoredDuringExecution", []).append(
            {"weight": 100, "podAffinityTerm": term}
        )
    return affinity


ZONE_LABEL = "topology.kubernetes.io/zone"


def zone_spread(spread: Mapping[str, str]) -> Manifest:
    """Spread over zones where nodes have them; nodes without a zone still take pods."""
    return {
        "maxSkew": 1,
        "topologyKey": ZONE_LABEL,
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": dict(spread)},
    }


def pod_spec(
    stack: Stack,
    containers: Sequence[Manifest],
    *,
    spread: Mapping[str, str],
    volumes: Sequence[Manifest] = (),
    grace_seconds: int,
    service_account: str | None = None,
    fs_group_on_mismatch: bool = False,
    placement: PlacementSpec | None = None,
    required_spread: bool = False,
    zone_spread_too: bool = False,
    priority_class_name: str | None = None,
) -> Manifest:
    """A pod spec with the stack's security, placement and /tmp; no Service links.

    ``placement`` is the component's own (default: ``spec.placement``).
    """
    placement = placement or stack.spec.placement
    spec: Manifest = {
        # Service links would inject FOO_SERVICE_HOST-style variables; a Service named
        # "ts-..." would even produce TS_* ones, which workers refuse as unknown settings.
        "enableServiceLinks": False,
        "automountServiceAccountToken": service_account is not None,
        "securityContext": _pod_security(fs_group_on_mismatch=fs_group_on_mismatch),
        "terminationGracePeriodSeconds": grace_seconds,
        "containers": list(containers),
        "volumes": [*volumes, TMP_VOLUME],
        "affinity": _affinity(placement, spread, required=required_spread),
    }
    if zone_spread_too:
        spec["topologySpreadConstraints"] = [zone_spread(spread)]
    if priority_class_name is not None:
        spec["priorityClassName"] = priority_class_name
    if service_account is not None:
        spec["serviceAccountName"] = service_account
    if stack.spec.image_pull_secrets:
        spec["imagePullSecrets"] = pull_secrets(stack)
    if placement.node_selector:
        spec["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        spec["tolerations"] = copy.deepcopy(list(placement.tolerations))
    return spec


def pull_secrets(stack: Stack) -> list[Manifest]:
    """spec.imagePullSecrets as a pod or ServiceAccount lists them (empty: leave it out)."""
    return [{"name": ref.name} for ref in stack.spec.image_pull_secrets]


def service_account(stack: Stack, name: str, component: str, bot: str | None = None) -> Manifest:
    """A ServiceAccount of the stack's own, carrying the registry's pull Secrets."""
    account: Manifest = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(stack, name, component, bot),
    }
    if stack.spec.image_pull_secrets:
        account["imagePullSecrets"] = pull_secrets(stack)
    return account


def disruption_budget(stack: Stack, name: str, component: str, bot: str | None = None) -> Manifest:
    """At most one pod of the component evicted at a time (a drain never takes leader and
    standby, or every gate replica, together); a pod that is not ready may always go, so a
    crash-looping pod never blocks a drain."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(stack, name, component, bot),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector(stack, component, bot)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def resources(spec: Resources) -> Manifest:
    """A container's resources from the spec's model, leaving out empty maps."""
    out: Manifest = {}
    if spec.requests:
        out["requests"] = dict(spec.requests)
    if spec.limits:
        out["limits"] = dict(spec.limits)
    return out


def config_hash(*parts: object) -> str:
    """sha256 of rendered configuration: in a pod template, any change rolls the pods."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def field_env(name: str, field_path: str) -> Manifest:
    """An environment variable filled by the downward API."""
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}
