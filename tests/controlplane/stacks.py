"""TradingStacks on the real API server, seen as a cluster admin sees them."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tests.harness.controlplane import ControlPlane, wait_for
from tradingstack_operator.kube import Kube
from tradingstack_operator.resources import stack_selector
from tradingstack_operator.spec import API_VERSION, KIND, PLURAL

SPEC: dict[str, Any] = {
    "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
    "bots": [{"name": "alpha", "strategy": "rsi_mean_reversion", "symbols": ["BTCUSDT"]}],
}
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


@dataclass
class Stacks:
    """One namespace's TradingStacks, read and written as the admin."""

    plane: ControlPlane
    namespace: str

    def path(self, name: str = "") -> str:
        base = f"/apis/{API_VERSION}/namespaces/{self.namespace}/{PLURAL}"
        return f"{base}/{name}" if name else base

    def create(self, name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name},
                "spec": copy.deepcopy(SPEC if spec is None else spec)}  # fmt: skip
        created: dict[str, Any] = self.plane.rest("POST", self.path(), body)
        return created

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.plane.rest("GET", self.path(name))
        return found

    def patch_spec(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        patched: dict[str, Any] = self.plane.rest(
            "PATCH", self.path(name), {"spec": spec}, content_type="application/merge-patch+json"
        )
        return patched

    def delete(self, name: str) -> None:
        self.plane.rest("DELETE", self.path(name))

    def conditions(self, name: str) -> dict[str, dict[str, Any]]:
        status = self.get(name).get("status") or {}
        return {c["type"]: c for c in status.get("conditions") or []}

    def wait_condition(
        self,
        name: str,
        kind: str,
        status: str = "True",
        reason: str | None = None,
        timeout: float = 120.0,
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            cond = self.conditions(name).get(kind) or {}
            if cond.get("status") != status or reason not in (None, cond.get("reason")):
                return None
            return cond

        what = f"{name}: {kind}={status}" + (f" ({reason})" if reason else "")
        found: dict[str, Any] = wait_for(reached, timeout, what)
        return found

    def wait_finalizer(self, name: str, timeout: float = 120.0) -> None:
        """Until kopf's one-time write has landed: the finalizer that lets it stop the
        resync timer on deletion (its first tries race our status writes and get 422)."""
        wait_for(lambda: self.get(name)["metadata"].get("finalizers"), timeout, "kopf's finalizer")

    def children(self, name: str) -> list[dict[str, Any]]:
        return Kube(self.plane.api).list_children(self.namespace, stack_selector(name)).items

    def pod_phases(self) -> dict[str, int]:
        """How many of the namespace's pods are in each phase (Ready ones counted apart)."""
        pods = self.plane.rest("GET", f"/api/v1/namespaces/{self.namespace}/pods")["items"]
        phases: dict[str, int] = {}
        for pod in pods:
            status = pod.get("status") or {}
            ready = any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in status.get("conditions") or []
            )
            phase = "Ready" if ready else status.get("phase", "Unknown")
            if not pod["spec"].get("nodeName"):
                phase = "Unscheduled"
            phases[phase] = phases.get(phase, 0) + 1
        return phases

    def events(self, name: str) -> list[dict[str, Any]]:
        answer = self.plane.rest("GET", f"/api/v1/namespaces/{self.namespace}/events")
        return [e for e in answer["items"] if e["involvedObject"].get("name") == name]


def unavailable(children: list[dict[str, Any]]) -> list[str]:
    """Workloads short of ready replicas at their latest generation (``kind/name r/n``)."""
    short = []
    for child in children:
        if child["kind"] not in ("Deployment", "StatefulSet"):
            continue
        status = child.get("status") or {}
        ready, wanted = status.get("readyReplicas", 0), child["spec"].get("replicas", 1)
        if status.get("observedGeneration") != child["metadata"]["generation"] or ready < wanted:
            short.append(f"{child['kind']}/{child['metadata']['name']} {ready}/{wanted}")
    return short


def workloads_available(children: list[dict[str, Any]]) -> bool:
    """Every Deployment and StatefulSet has its replicas ready at its latest generation."""
    workloads = [c for c in children if c["kind"] in ("Deployment", "StatefulSet")]
    return bool(workloads) and not unavailable(children)


def child_writes(writes: list[str]) -> list[str]:
    """The writes to children: not to the stack itself, not Events."""
    return [w for w in writes if not w.split()[1].startswith((f"{PLURAL}/", "events/"))]


def operator_writes(plane: ControlPlane, since: int, user: str) -> list[str]:
    """``verb resource/name`` of every write ``user`` made after audit mark ``since``."""
    writes = []
    for event in plane.audit_events(since, user):
        if event["verb"] not in WRITES:
            continue
        ref = event.get("objectRef") or {}
        sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
        writes.append(f"{event['verb']} {ref.get('resource')}/{ref.get('name')}{sub}")
    return writes


def stack_reads(plane: ControlPlane, since: int, user: str, name: str) -> int:
    """How many times ``user`` read stack ``name`` since ``since``: one per reconcile run."""
    refs = [e.get("objectRef") or {} for e in plane.audit_events(since, user) if e["verb"] == "get"]
    return sum(
        1
        for ref in refs
        if ref.get("resource") == PLURAL and ref.get("name") == name and not ref.get("subresource")
    )
