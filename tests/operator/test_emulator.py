"""Each API-server behaviour the emulator adds to kmock, proven over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import kmock
import kubernetes
import pytest

from tests.harness.kopf_runner import WAIT, eventually
from tests.operator.api import apply, call, merge, path
from tests.operator.emulator import Emulator
from tests.operator.resources import CONFIGMAPS

pytestmark = pytest.mark.asyncio

TS_API = "tradingstack.io/v1alpha1"
TS = f"{TS_API}/tradingstacks"


def stack(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": TS_API, "kind": "TradingStack", "metadata": {"name": name}, "spec": spec}


def cm(name: str, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}, **extra}, "data": {"k": "v"}}


def rv(body: dict[str, Any]) -> int:
    return int(body["metadata"]["resourceVersion"])


async def test_create_answers_201_with_server_fields(emulator: Emulator, namespace: str) -> None:
    status, first = await call(emulator, "POST", path("v1/configmaps", namespace), cm("a"))
    assert status == 201
    meta = first["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["generation"] == 1
    assert (first["apiVersion"], first["kind"]) == ("v1", "ConfigMap")

    # resourceVersion is cluster-wide: a different resource still gets a later one.
    _, second = await call(emulator, "POST", path("v1/secrets", namespace), cm("b"))
    assert rv(second) > rv(first)
    assert second["metadata"]["uid"] != meta["uid"]


async def test_duplicate_create_is_409_already_exists(emulator: Emulator, namespace: str) -> None:
    url = path("v1/configmaps", namespace)
    assert (await call(emulator, "POST", url, cm("a")))[0] == 201
    status, error = await call(emulator, "POST", url, cm("a"))
    assert (status, error["reason"], error["kind"]) == (409, "AlreadyExists", "Status")


async def test_generation_counts_spec_changes_only(emulator: Emulator, namespace: str) -> None:
    url = path(TS, namespace, "s")
    _, created = await call(emulator, "POST", path(TS, namespace), stack("s", replicas=3))

    _, labelled = await merge(emulator, url, {"metadata": {"labels": {"team": "desk"}}})
    assert labelled["metadata"]["generation"] == 1
    assert rv(labelled) > rv(created)

    _, edited = await merge(emulator, url, {"spec": {"replicas": 5}})
    assert edited["metadata"]["generation"] == 2

    _, with_status = await merge(
        emulator, path(TS, namespace, "s", "status"), {"status": {"phase": "Ready"}}
    )
    assert with_status["metadata"]["generation"] == 2
    assert with_status["status"] == {"phase": "Ready"}


async def test_status_subresource_separates_status_from_the_rest(
    emulator: Emulator, namespace: str
) -> None:
    await call(
        emulator, "POST", path(TS, namespace), {**stack("s", replicas=3), "status": {"x": 1}}
    )
    assert emulator.read(TS, namespace, "s") is not None
    assert "status" not in (emulator.read(TS, namespace, "s") or {})  # dropped on create

    # /status writes only status: the spec and labels in the same patch are ignored.
    patch = {"spec": {"replicas": 9}, "metadata": {"labels": {"a": "b"}}, "status": {"phase": "Ok"}}
    _, body = await merge(emulator, path(TS, namespace, "s", "status"), patch)
    assert (body["spec"], body["status"], body["metadata"].get("labels")) == (
        {"replicas": 3},
        {"phase": "Ok"},
        None,
    )

    # The main resource ignores status when the CRD has the status subresource.
    _, body = await merge(
        emulator, path(TS, namespace, "s"), {"spec": {"replicas": 1}, "status": {"phase": "X"}}
    )
    assert (body["spec"], body["status"]) == ({"replicas": 1}, {"phase": "Ok"})


async def test_server_side_apply_creates_merges_and_noop_keeps_rv(
    emulator: Emulator, namespace: str
) -> None:
    url = path(TS, namespace, "s")
    status, created = await apply(emulator, url, stack("s", replicas=3, mode="paper"), "op")
    assert status == 201
    assert created["metadata"]["uid"]

    # The same content again: answered, but nothing is written and nobody is notified.
    events_before = len(emulator._events)
    status, again = await apply(emulator, url, stack("s", replicas=3, mode="paper"), "op")
    assert status == 200
    assert rv(again) == rv(created)
    assert len(emulator._events) == events_before

    # A change merges; a field this manager stops applying is removed (SSA pruning).
    _, changed = await apply(emulator, url, stack("s", replicas=5), "op")
    assert changed["spec"] == {"replicas": 5}
    assert rv(changed) > rv(created)
    assert changed["metadata"]["generation"] == 2


async def test_server_side_apply_conflicts_unless_forced(
    emulator: Emulator, namespace: str
) -> None:
    url = path(TS, namespace, "s")
    await apply(emulator, url, stack("s", replicas=3), "operator")
    await merge(emulator, url, {"spec": {"replicas": 7}}, fieldManager="kubectl-edit")
    assert emulator.managers(TS, namespace, "s")["kubectl-edit/Update"] == {".spec.replicas"}

    status, error = await apply(emulator, url, stack("s", replicas=3), "operator")
    assert status == 409
    assert 'conflict with "kubectl-edit": .spec.replicas' in error["message"]

    status, fixed = await apply(emulator, url, stack("s", replicas=3), "operator", force=True)
    assert (status, fixed["spec"]["replicas"]) == (200, 3)


async def test_put_replaces_and_checks_resource_version(emulator: Emulator, namespace: str) -> None:
    url = path("v1/configmaps", namespace, "a")
    _, created = await call(emulator, "POST", path("v1/configmaps", namespace), cm("a"))
    replacement = {**created, "data": {"other": "x"}}
    status, replaced = await call(emulator, "PUT", url, replacement)
    assert (status, replaced["data"]) == (200, {"other": "x"})
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]

    stale = await call(emulator, "PUT", url, replacement)  # still carries the old rv
    assert stale[0] == 409
    missing = await call(emulator, "PUT", path("v1/configmaps", namespace, "nope"), cm("nope"))
    assert missing[0] == 404


async def test_list_has_kind_version_and_honours_label_selectors(
    emulator: Emulator, namespace: str
) -> None:
    url = path("v1/configmaps", namespace)
    await call(emulator, "POST", url, cm("web", {"app": "ts", "tier": "web"}))
    await call(emulator, "POST", url, cm("db", {"app": "ts", "tier": "db"}))
    await call(emulator, "POST", url, cm("canary", {"app": "ts", "tier": "web", "canary": "y"}))
    await call(emulator, "POST", path("v1/configmaps", "elsewhere"), cm("far", {"app": "ts"}))

    async def names(**params: str) -> list[str]:
        status, listing = await call(emulator, "GET", url, **params)
        assert status == 200
        assert (listing["apiVersion"], listing["kind"]) == ("v1", "ConfigMapList")
        assert int(listing["metadata"]["resourceVersion"]) == emulator._rv
        return [item["metadata"]["name"] for item in listing["items"]]

    assert await names() == ["canary", "db", "web"]  # this namespace only, sorted
    assert await names(labelSelector="app=ts,tier=web") == ["canary", "web"]
    assert await names(labelSelector="tier in (db),app==ts") == ["db"]
    assert await names(labelSelector="tier=web,!canary") == ["web"]
    assert await names(labelSelector="tier!=web") == ["db"]
    assert await names(fieldSelector="metadata.name=db") == ["db"]


async def test_watch_from_resource_version_streams_only_later_events(
    emulator: Emulator, namespace: str
) -> None:
    url = path("v1/configmaps", namespace)
    _, old = await call(emulator, "POST", url, cm("old"))
    await call(emulator, "POST", url, cm("new"))
    await merge(emulator, path("v1/configmaps", namespace, "old"), {"data": {"k": "2"}})
    await call(emulator, "DELETE", path("v1/configmaps", namespace, "new"))

    params = {"watch": "true", "resourceVersion": str(rv(old))}
    async with emulator.get(url, params=params) as response:
        lines = [json.loads(await response.content.readline()) for _ in range(3)]
        seen = [(e["type"], e["object"]["metadata"]["name"]) for e in lines]
        assert seen == [("ADDED", "new"), ("MODIFIED", "old"), ("DELETED", "new")]

        await call(emulator, "POST", url, cm("live"))  # and then live events follow
        live = json.loads(await asyncio.wait_for(response.content.readline(), WAIT))
        assert (live["type"], live["object"]["metadata"]["name"]) == ("ADDED", "live")

    # Without a resourceVersion, the current state comes first, as ADDED.
    async with emulator.get(url, params={"watch": "true", "timeoutSeconds": "0.2"}) as response:
        events = [json.loads(line) for line in (await response.read()).splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "live"),
        ("ADDED", "old"),
    ]


async def test_delete_waits_for_finalizers(emulator: Emulator, namespace: str) -> None:
    url = path(TS, namespace, "s")
    await call(
        emulator,
        "POST",
        path(TS, namespace),
        {**stack("s"), "metadata": {"name": "s", "finalizers": ["x/y"]}},
    )

    status, deleting = await call(emulator, "DELETE", url)
    assert status == 200
    assert deleting["metadata"]["deletionTimestamp"]
    assert emulator.read(TS, namespace, "s") is not None  # still there, held by the finalizer

    refused = await merge(emulator, url, {"metadata": {"finalizers": ["x/y", "new/one"]}})
    assert refused[0] == 422

    await merge(emulator, url, {"metadata": {"finalizers": None}})
    assert emulator.read(TS, namespace, "s") is None
    assert (await call(emulator, "GET", url))[0] == 404


def owned_by(*owners: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": o["apiVersion"],
            "kind": o["kind"],
            "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"],
        }
        for o in owners
    ]


async def test_garbage_collection_follows_owner_references(
    emulator: Emulator, namespace: str
) -> None:
    finalized = {**stack("s"), "metadata": {"name": "s", "finalizers": ["x/y"]}}
    _, owner = await call(emulator, "POST", path(TS, namespace), finalized)
    _, other = await call(emulator, "POST", path(TS, namespace), stack("other"))
    cms = path("v1/configmaps", namespace)
    _, child = await call(emulator, "POST", cms, cm("child", ownerReferences=owned_by(owner)))
    await call(
        emulator,
        "POST",
        path("v1/secrets", namespace),
        cm("grandchild", ownerReferences=owned_by(child)),
    )
    await call(emulator, "POST", cms, cm("shared", ownerReferences=owned_by(owner, other)))

    # Marked for deletion is not removed: the dependents stay while the finalizer holds.
    await call(emulator, "DELETE", path(TS, namespace, "s"))
    assert emulator.read(CONFIGMAPS, namespace, "child") is not None

    await merge(emulator, path(TS, namespace, "s"), {"metadata": {"finalizers": []}})
    assert emulator.read(CONFIGMAPS, namespace, "child") is None
    assert emulator.read("v1/secrets", namespace, "grandchild") is None  # cascades
    shared = emulator.read(CONFIGMAPS, namespace, "shared")  # another owner is alive
    assert shared is not None
    assert [ref["name"] for ref in shared["metadata"]["ownerReferences"]] == ["other"]


async def test_orphan_deletion_keeps_dependents(emulator: Emulator, namespace: str) -> None:
    _, owner = await call(emulator, "POST", path(TS, namespace), stack("s"))
    await call(
        emulator,
        "POST",
        path("v1/configmaps", namespace),
        cm("child", ownerReferences=owned_by(owner)),
    )
    await call(emulator, "DELETE", path(TS, namespace, "s"), {"propagationPolicy": "Orphan"})
    child = emulator.read(CONFIGMAPS, namespace, "child")
    assert child is not None
    assert "ownerReferences" not in child["metadata"]


async def test_fault_injected_once_then_served(emulator: Emulator, namespace: str) -> None:
    url = path("v1/configmaps", namespace)
    fault = emulator.fail_once(emulator["post", CONFIGMAPS], 500)
    status, error = await call(emulator, "POST", url, cm("a"))
    assert (status, error["reason"]) == (500, "InternalError")
    assert fault.fired
    assert emulator.read(CONFIGMAPS, namespace, "a") is None  # the failed write did not happen
    assert (await call(emulator, "POST", url, cm("a")))[0] == 201

    emulator.fail_once(emulator["patch", CONFIGMAPS], 409)
    assert (await merge(emulator, path("v1/configmaps", namespace, "a"), {"data": {"k": "2"}}))[
        0
    ] == 409
    assert (await merge(emulator, path("v1/configmaps", namespace, "a"), {"data": {"k": "2"}}))[
        0
    ] == 200


async def test_injected_timeout_after_commit_makes_a_retry_see_409(
    emulator: Emulator, namespace: str
) -> None:
    url = path("v1/configmaps", namespace)
    emulator.fail_once(emulator["post", CONFIGMAPS], 504, delay=2 * WAIT, commit=True)
    posting = asyncio.ensure_future(emulator.post(url, json=cm("a")))
    # The write happens, the answer is held back: the client gives up, as on a timeout.
    await eventually(lambda: emulator.read(CONFIGMAPS, namespace, "a") is not None)
    posting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await posting
    status, error = await call(emulator, "POST", url, cm("a"))  # the naive retry
    assert (status, error["reason"]) == (409, "AlreadyExists")


async def test_writes_counts_write_requests_since_a_mark(
    emulator: Emulator, namespace: str
) -> None:
    url = path("v1/configmaps", namespace)
    await call(emulator, "POST", url, cm("before"))
    mark = emulator.mark()
    await call(emulator, "GET", url)
    await call(emulator, "POST", url, cm("a"))
    await merge(emulator, f"{url}/a", {"data": {"k": "2"}})
    await call(emulator, "GET", f"{url}/a")
    await call(emulator, "DELETE", f"{url}/a")
    assert emulator.writes(mark) == [("POST", url), ("PATCH", f"{url}/a"), ("DELETE", f"{url}/a")]
    assert len(emulator.writes(mark, agent="kmock")) == 3
    assert emulator.writes(mark, agent="kopf") == []


async def test_kubernetes_client_works_against_the_emulator(
    api_client: Any, namespace: str
) -> None:
    """The official client: create returns the object (201), SSA via PATCH, lists decode."""
    core = kubernetes.client.CoreV1Api(api_client)
    custom = kubernetes.client.CustomObjectsApi(api_client)

    def scenario() -> tuple[Any, Any, Any]:
        made = custom.create_namespaced_custom_object(
            "tradingstack.io", "v1alpha1", namespace, "tradingstacks", stack("s", replicas=1)
        )
        applied = core.patch_namespaced_config_map(
            "c",
            namespace,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "data": {"a": "1"},
            },
            field_manager="tradingstack",
            _content_type="application/apply-patch+yaml",
        )
        return made, applied, core.list_namespaced_config_map(namespace)

    made, applied, listing = await asyncio.to_thread(scenario)
    assert made["metadata"]["generation"] == 1  # CustomObjectsApi returns None on a 200
    assert applied.data == {"a": "1"}
    assert [item.metadata.name for item in listing.items] == ["c"]


async def test_unknown_resource_is_404(emulator: Emulator) -> None:
    status, error = await call(emulator, "GET", "/apis/example.com/v1/widgets")
    assert (status, error["reason"]) == (404, "NotFound")
    assert kmock.resource("v1/configmaps") in emulator.resources
