"""The renderer's test corpus: TradingStack files, loaded as the renderer's input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradingstack_operator.manifests import load_manifest
from tradingstack_operator.render import Manifest, Stack, render, stack_from_manifest

DATA = Path(__file__).resolve().parents[1] / "data"
RENDER_CORPUS = sorted((DATA / "render").glob("*.yaml"))
# The spec model's corpus of valid specs: every one of them must render too.
SPEC_CORPUS = sorted((DATA / "specs" / "valid").glob("*.yaml"))
ALL = RENDER_CORPUS + SPEC_CORPUS


def load(path: Path) -> Stack:
    return stack_from_manifest(load_manifest(path), namespace="default")


def named(name: str) -> Stack:
    return load(DATA / "render" / f"{name}.yaml")


def children(name: str) -> list[Manifest]:
    return render(named(name))


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in by_kind(manifests, kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def env_of(container: Manifest) -> dict[str, Any]:
    """name -> value, or the valueFrom mapping for downward-API entries."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def workloads(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in ("Deployment", "StatefulSet")]
