"""Helpers for the operator tests: a stack manifest, its expected children, fake controllers.

The emulator runs no controllers, so a test plays the StatefulSet/Deployment controller
by writing the workloads' status, as kube-controller-manager would once pods are ready.
"""

from __future__ import annotations

import copy
from typing import Any

import kmock

from tests.operator.api import call, merge, path
from tests.operator.emulator import Emulator
from tradingstack_operator.render import render_children
from tradingstack_operator.resources import resource_of
from tradingstack_operator.spec import parse_spec

STACK = "paper"
STACKS = "tradingstack.io/v1alpha1/tradingstacks"
MASTER = "paper-redis-0.paper-redis-headless:6379"

SPEC: dict[str, Any] = {
    "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
    "bots": [{"name": "alpha", "strategy": "rsi_mean_reversion", "symbols": ["BTCUSDT"]}],
}


def stack_manifest(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "tradingstack.io/v1alpha1",
        "kind": "TradingStack",
        "metadata": {"name": STACK},
        "spec": copy.deepcopy(SPEC if spec is None else spec),
    }


def resource_path(manifest: dict[str, Any]) -> str:
    resource = resource_of(manifest)
    return f"{resource.api_version}/{resource.plural}"


def child_url(manifest: dict[str, Any], namespace: str) -> str:
    return path(resource_path(manifest), namespace, manifest["metadata"]["name"])


def expected_children(namespace: str, spec: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """What the renderer wants, plus the generated password Secrets (admin, users)."""
    rendered = render_children(STACK, namespace, parse_spec(SPEC if spec is None else spec))
    secrets = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{STACK}-{suffix}"}}
        for suffix in ("redis-auth", "redis-users")
    ]
    return [*rendered, *secrets]


def live(emulator: Emulator, manifest: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    return emulator.read(kmock.resource(resource_path(manifest)), namespace,
                         manifest["metadata"]["name"])  # fmt: skip


def stack(emulator: Emulator, namespace: str) -> dict[str, Any]:
    return emulator.read(kmock.resource(STACKS), namespace, STACK) or {}


def condition(emulator: Emulator, namespace: str, kind: str) -> dict[str, Any]:
    for cond in (stack(emulator, namespace).get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return dict(cond)
    return {}


async def create_stack(
    emulator: Emulator, namespace: str, spec: dict[str, Any] | None = None
) -> None:
    status, body = await call(emulator, "POST", path(STACKS, namespace), stack_manifest(spec))
    assert status == 201, body


async def play_controllers(
    emulator: Emulator, namespace: str, only: tuple[str, ...] = ("StatefulSet", "Deployment")
) -> None:
    """Mark every workload (of the kinds ``only``) rolled out and fully ready, as the real
    controllers would."""
    for manifest in expected_children(namespace):
        if manifest["kind"] not in only:
            continue
        served = live(emulator, manifest, namespace)
        assert served is not None, manifest["metadata"]["name"]
        replicas = served["spec"].get("replicas", 1)
        status = {"replicas": replicas, "readyReplicas": replicas, "updatedReplicas": replicas,
                  "availableReplicas": replicas,
                  "observedGeneration": served["metadata"]["generation"]}  # fmt: skip
        url = child_url(manifest, namespace) + "/status"
        code, body = await merge(emulator, url, {"status": status})
        assert code == 200, body


def find(children: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """One child by kind and name (a worker's Service and Deployment share a name)."""
    return next(m for m in children if m["kind"] == kind and m["metadata"]["name"] == name)
