"""The real kopf operator against the emulator: adopt a child, write status, GC, stay idle."""

from __future__ import annotations

from typing import Any

import kmock
import kopf
import kubernetes
import pytest

from tests.harness.kopf_runner import eventually, runs_of
from tests.operator.api import call, path
from tests.operator.conftest import StartOperator
from tests.operator.emulator import Emulator
from tests.operator.resources import CONFIGMAPS, TRADINGSTACKS

pytestmark = pytest.mark.asyncio

MANAGER = "smoke-operator"


def smoke_registry(api_client: Any) -> kopf.OperatorRegistry:
    """A tiny operator: on create, adopt a ConfigMap and report status; resync it by SSA."""
    registry = kopf.OperatorRegistry()
    core = kubernetes.client.CoreV1Api(api_client)

    def child_of(body: kopf.Body) -> dict[str, Any]:
        child = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{body.meta.name}-config"},
            "data": {"replicas": str(body.spec.get("replicas", 1))},
        }
        kopf.adopt(child, owner=body)  # ownerReferences + the owner's namespace
        return child

    def apply_child(body: kopf.Body) -> None:
        child = child_of(body)
        core.patch_namespaced_config_map(
            child["metadata"]["name"],
            str(body.meta.namespace),
            child,
            field_manager=MANAGER,
            force=True,
            _content_type="application/apply-patch+yaml",
        )

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_via_client(**kwargs)  # reads the test's kubeconfig

    @kopf.on.create("tradingstack.io", "v1alpha1", "tradingstacks", registry=registry)
    def create(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        apply_child(body)
        patch.status["phase"] = "Ready"

    # A level-based resync, as the real operator will have: the same apply, again and again.
    @kopf.timer("tradingstack.io", "v1alpha1", "tradingstacks", interval=0.2, registry=registry)
    def resync(body: kopf.Body, **_: Any) -> None:
        apply_child(body)

    return registry


async def test_kopf_adopts_child_reports_status_idles_and_gc_cleans_up(
    emulator: Emulator,
    namespace: str,
    api_client: Any,
    start_operator: StartOperator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await start_operator(smoke_registry(api_client))
    start = emulator.mark()
    body: dict[str, Any] = {"apiVersion": "tradingstack.io/v1alpha1", "kind": "TradingStack"}
    body |= {"metadata": {"name": "paper"}, "spec": {"replicas": 3}}
    status, stack = await call(
        emulator, "POST", path("tradingstack.io/v1alpha1/tradingstacks", namespace), body
    )
    assert status == 201

    def settled() -> bool:
        current = emulator.read(TRADINGSTACKS, namespace, "paper") or {}
        annotations = current.get("metadata", {}).get("annotations", {})
        has_child = emulator.read(CONFIGMAPS, namespace, "paper-config") is not None
        done = "kopf.zalando.org/last-handled-configuration" in annotations
        return has_child and done and current.get("status", {}).get("phase") == "Ready"

    await eventually(settled)
    child = emulator.read(CONFIGMAPS, namespace, "paper-config")
    assert child is not None
    assert child["data"] == {"replicas": "3"}
    [owner_ref] = child["metadata"]["ownerReferences"]
    assert (owner_ref["uid"], owner_ref["kind"], owner_ref["controller"]) == (
        stack["metadata"]["uid"],
        "TradingStack",
        True,
    )

    # What kopf itself writes to handle one creation, all on the TradingStack: a JSON patch
    # adding its finalizer (because a timer must be stopped before the object goes), then a
    # merge patch of the kopf.zalando.org/last-handled-configuration annotation, then the
    # handler's status patch through /status. No Events: kopf 1.45 posts its log lines as
    # Events only with settings.posting.loggers=True (kopf.event() calls are always posted).
    stack_url = path("tradingstack.io/v1alpha1/tradingstacks", namespace, "paper")
    assert emulator.writes(start, agent="kopf") == [
        ("PATCH", stack_url),
        ("PATCH", stack_url),
        ("PATCH", f"{stack_url}/status"),
    ]

    # Idle: the timer re-applies the child a few times. kopf writes nothing, and the
    # applies change nothing (the resourceVersion does not move).
    idle_mark, idle_rv = emulator.mark(), emulator.resource_version
    await runs_of(caplog, "resync", 3)  # at least two whole resyncs since the mark
    assert emulator.writes(idle_mark, agent="kopf") == []
    resync_applies = emulator.writes(idle_mark, agent="OpenAPI-Generator")
    assert len(resync_applies) >= 2
    assert emulator.changes(idle_rv) == []

    # Deleting the owner: kopf releases its finalizer (one patch), then the child is
    # garbage-collected by its ownerReference.
    delete_mark = emulator.mark()
    assert (await call(emulator, "DELETE", stack_url))[0] == 200
    await eventually(lambda: emulator.read(TRADINGSTACKS, namespace, "paper") is None)
    # kopf's finalizer removal is a resourceVersion-guarded JSON patch: when the object
    # moved underneath it (the deletion itself bumps the version) it retries, so the
    # count varies; what must hold is that kopf wrote nothing but patches of the stack.
    deletion_writes = emulator.writes(delete_mark, agent="kopf")
    assert deletion_writes
    assert set(deletion_writes) == {("PATCH", stack_url)}
    assert emulator.read(CONFIGMAPS, namespace, "paper-config") is None


async def test_kopf_retries_an_injected_500_without_duplicating_the_child(
    emulator: Emulator, namespace: str, api_client: Any, start_operator: StartOperator
) -> None:
    status_patches = emulator["patch", TRADINGSTACKS, kmock.subresource("status")]
    fault = emulator.fail_once(status_patches, 500)
    await start_operator(smoke_registry(api_client))
    body: dict[str, Any] = {"apiVersion": "tradingstack.io/v1alpha1", "kind": "TradingStack"}
    body |= {"metadata": {"name": "paper"}, "spec": {"replicas": 2}}
    url = path("tradingstack.io/v1alpha1/tradingstacks", namespace)
    assert (await call(emulator, "POST", url, body))[0] == 201

    def ready() -> bool:
        current = emulator.read(TRADINGSTACKS, namespace, "paper") or {}
        return bool(current.get("status", {}).get("phase") == "Ready")

    await eventually(ready)
    assert fault.fired  # kopf met the 500 and retried the status patch (error_backoffs)
    children = [key for key in emulator.objects if key[0] == CONFIGMAPS]
    assert [name for _, _, name in children] == ["paper-config"]
