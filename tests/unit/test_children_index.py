"""The children a pass reads from kopf's indexes, with our own writes standing in for
the index's copy until its watch catches up (no I/O: every kind is indexed here)."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from kubernetes.client import ApiClient

from tradingstack_operator.children import Indexed, index_entry, unpack
from tradingstack_operator.kube import Kube
from tradingstack_operator.reconcile.plan import key_of
from tradingstack_operator.resources import CHILD_RESOURCES, STACK_LABEL

DEPLOYMENTS = next(r for r in CHILD_RESOURCES if r.kind == "Deployment")


def child(name: str, version: str, stack: str = "paper", replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": version,
                     "labels": {STACK_LABEL: stack}, "managedFields": [{"manager": "x"}]},
        "spec": {"replicas": replicas},
    }  # fmt: skip


class FakeIndex:
    """What a kopf index holds: (namespace, stack) -> the values of its objects."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    def put(self, body: dict[str, Any]) -> None:
        self.objects[body["metadata"]["name"]] = body

    def lookup(self, key: tuple[str, str]) -> list[dict[str, Any]]:
        found = []
        for body in self.objects.values():
            for k, value in index_entry(DEPLOYMENTS, body).items():
                if k == key:
                    found.append(unpack(value))
        return found


def view() -> tuple[Indexed, FakeIndex]:
    index = FakeIndex()
    empty: list[dict[str, Any]] = []
    lookups = {r: (index.lookup if r == DEPLOYMENTS else (lambda _key: empty))
               for r in CHILD_RESOURCES}  # fmt: skip
    return Indexed(Kube(ApiClient()), lookups), index


def names(source: Indexed, stack: str = "paper") -> dict[str, int]:
    return {c["metadata"]["name"]: c["spec"]["replicas"]
            for c in source.observe("ns", stack).items}  # fmt: skip


def test_the_index_entry_is_keyed_by_namespace_and_stack_and_drops_managed_fields() -> None:
    ((key, value),) = index_entry(DEPLOYMENTS, child("gate", "5")).items()
    assert key == ("ns", "paper")
    manifest = unpack(value)
    assert "managedFields" not in manifest["metadata"]
    assert manifest["spec"] == {"replicas": 1}
    assert index_entry(DEPLOYMENTS, {"metadata": {"name": "x", "labels": {}}}) == {}


def test_a_write_stands_in_until_the_index_shows_it_or_a_later_version() -> None:
    source, index = view()
    index.put(child("gate", "10", replicas=1))
    applied = child("gate", "12", replicas=3)
    source.wrote("ns", "paper", {key_of(applied): applied}, set())
    assert names(source) == {"gate": 3}  # the index still holds version 10
    index.put(child("gate", "12", replicas=3))
    assert names(source) == {"gate": 3}
    index.put(child("gate", "15", replicas=5))  # a later edit by someone else wins
    assert names(source) == {"gate": 5}


def test_a_deleted_child_stays_hidden_until_the_index_drops_it() -> None:
    source, index = view()
    index.put(child("gate", "10"))
    assert names(source) == {"gate": 1}
    source.wrote("ns", "paper", {}, {key_of(child("gate", "10"))})
    assert names(source) == {}
    del index.objects["gate"]
    assert names(source) == {}
    index.put(child("gate", "20"))  # made again later: seen again
    assert names(source) == {"gate": 1}


def test_a_child_made_anew_before_the_index_dropped_the_old_one_is_seen() -> None:
    source, index = view()
    index.put(child("gate", "10"))
    assert names(source) == {"gate": 1}
    source.wrote("ns", "paper", {}, {key_of(child("gate", "10"))})
    index.put(child("gate", "30", replicas=2))  # the delete and a create, seen at once
    assert names(source) == {"gate": 2}


def test_other_stacks_children_are_not_mixed_in() -> None:
    source, index = view()
    index.put(child("gate", "10"))
    index.put(child("other-gate", "11", stack="other"))
    applied = child("other-gate", "12", stack="other", replicas=4)
    source.wrote("ns", "other", {key_of(applied): applied}, set())
    assert names(source) == {"gate": 1}
    assert names(source, "other") == {"other-gate": 4}


def test_nothing_of_a_childs_body_is_kept_between_passes() -> None:
    # Between passes the source keeps versions only: at 100 stacks, the kept bodies were
    # most of the operator's resident memory (bench.operator_controlplane).
    source, index = view()
    big = child("gate", "10")
    big["spec"]["template"] = {"note": "x" * 1_000_000}
    index.put(big)
    tracemalloc.start()
    try:
        assert names(source) == {"gate": 1}
        gc.collect()
        kept, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 100_000
    source.wrote("ns", "paper", {}, {key_of(big)})
    assert names(source) == {}  # the tombstone still knows the version it deleted


def test_a_write_standing_in_for_the_index_keeps_no_managed_fields() -> None:
    source, index = view()
    index.put(child("gate", "10"))
    applied = child("gate", "12", replicas=3)
    source.wrote("ns", "paper", {key_of(applied): applied}, set())
    (seen,) = source.observe("ns", "paper").items
    assert seen["spec"] == {"replicas": 3}
    assert "managedFields" not in seen["metadata"]


def test_an_answer_standing_in_for_the_index_is_kept_packed() -> None:
    # A stack's answers wait for its next pass; while 100 stacks were created at once that
    # was thousands of whole answers (bench.operator_controlplane). Packed, as the index
    # packs its copies, a large answer costs its compressed size.
    source, index = view()
    index.put(child("gate", "10"))
    tracemalloc.start()
    try:
        applied = child("gate", "12", replicas=3)
        applied["spec"]["template"] = {"note": "x" * 1_000_000}
        source.wrote("ns", "paper", {key_of(applied): applied}, set())
        del applied
        gc.collect()
        kept, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 100_000
    (seen,) = source.observe("ns", "paper").items
    assert seen["spec"]["replicas"] == 3
    assert seen["spec"]["template"]["note"] == "x" * 1_000_000
