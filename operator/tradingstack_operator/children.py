"""Where a reconcile pass reads a stack's children from: LISTs, or kopf's watch indexes.

:class:`Listed` asks the server once per child kind per pass (13 requests). :class:`Indexed`
reads kopf indexes (``@kopf.index``, fed by one watch per kind, kept by kopf) for the kinds
the server served at start, and LISTs only the others, so a missing CRD is still noticed
and one installed later is still found. A watch lags our own writes by a moment; the
objects the server answered to our applies and deletes stand in for the index's copy
until the index catches up (resourceVersions of one etcd compare as integers), so a pass
right after a write does not write the same thing again. Those answers are packed as the
index packs its copies: a stack's are kept until its next pass, and while 100 stacks are
created at once that was thousands of answers (bench.operator_controlplane).
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .kube import Children, Kube, Manifest
from .reconcile.plan import Key, key_of
from .resources import CHILD_RESOURCES, STACK_LABEL, Resource, stack_selector

#: A kopf index's lookup for one kind: (namespace, stack) -> that stack's children.
Lookup = Callable[[tuple[str, str]], Iterable[Manifest]]


class ChildSource(Protocol):
    def observe(self, namespace: str, stack: str) -> Children:
        """The stack's children as the server holds them (as far as this source knows)."""
        ...

    def wrote(self, namespace: str, stack: str, served: Mapping[Key, Manifest],
              deleted: set[Key]) -> None:  # fmt: skip
        """What this pass applied (the server's answers) and deleted."""
        ...


@dataclass
class Listed:
    """One LIST per child kind per pass."""

    kube: Kube

    def observe(self, namespace: str, stack: str) -> Children:
        return self.kube.list_children(namespace, stack_selector(stack))

    def wrote(self, namespace: str, stack: str, served: Mapping[Key, Manifest],
              deleted: set[Key]) -> None:  # fmt: skip
        pass


def index_entry(resource: Resource, body: Mapping[str, Any]) -> dict[Any, bytes]:
    """kopf index function's value for one child: keyed by (namespace, stack), the body
    with its apiVersion and kind and without managedFields (never compared), as
    zlib-compressed JSON: held as Python dicts, 3,200 children of 100 stacks took about
    200 MiB of the operator's memory (bench.operator_controlplane); compressed, a few
    MiB, for a decompression per child per pass. Objects without our stack label are
    not indexed."""
    meta = body.get("metadata") or {}
    stack = (meta.get("labels") or {}).get(STACK_LABEL)
    if not stack:
        return {}
    value = _without_managed_fields(body)
    value |= {"apiVersion": resource.api_version, "kind": resource.kind}
    return {(meta.get("namespace"), stack): pack(value)}


def pack(manifest: Manifest) -> bytes:
    """A manifest as zlib-compressed JSON (:func:`unpack` reads it back)."""
    return zlib.compress(json.dumps(manifest, separators=(",", ":")).encode(), 1)


def _without_managed_fields(body: Mapping[str, Any]) -> Manifest:
    """A shallow copy of ``body`` without metadata.managedFields (never compared, and often
    the larger part of what the server answers)."""
    meta = body.get("metadata") or {}
    return dict(body) | {"metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def unpack(value: bytes) -> Manifest:
    """An index value back as the child's manifest."""
    manifest: Manifest = json.loads(zlib.decompress(value))
    return manifest


def _version(obj: Mapping[str, Any]) -> int | None:
    text = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    return int(text) if text.isdigit() else None


@dataclass
class Indexed:
    """kopf's indexes for the kinds in ``lookups``; LISTs for every other child kind."""

    kube: Kube
    lookups: Mapping[Resource, Lookup]
    #: (namespace, stack) -> key -> the server's answer to our last write of that child,
    #: or a tombstone (the version we deleted), kept until the index catches up.
    _written: dict[tuple[str, str], dict[Key, Answer | Tombstone]] = field(default_factory=dict)
    #: (namespace, stack) -> key -> the resourceVersion of each child the last pass saw
    #: (a tombstone's version). Versions only: the children themselves, kept for every
    #: stack between passes, were most of the operator's memory at 100 stacks.
    _seen: dict[tuple[str, str], dict[Key, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, namespace: str, stack: str) -> Children:
        unwatched = tuple(r for r in CHILD_RESOURCES if r not in self.lookups)
        listed = self.kube.list_children(namespace, stack_selector(stack), unwatched)
        current: dict[Key, Manifest] = {}
        for lookup in self.lookups.values():
            for child in lookup((namespace, stack)):
                current[key_of(child)] = child
        with self._lock:
            written = self._written.get((namespace, stack), {})
            for key, mine in list(written.items()):
                seen = current.get(key)
                if isinstance(mine, Tombstone):  # deleted by us
                    if seen is None or mine.outdated_by(seen):
                        del written[key]  # gone from the index, or made anew since
                    else:
                        del current[key]
                elif seen is not None and not mine.newer_than(seen):
                    del written[key]  # the index caught up
                else:
                    current[key] = unpack(mine.packed)
            if not written:
                self._written.pop((namespace, stack), None)
            self._seen[(namespace, stack)] = {
                key: version for key, child in current.items()
                if (version := _version(child)) is not None
            }  # fmt: skip
        return Children([*current.values(), *listed.items], listed.unserved)

    def wrote(self, namespace: str, stack: str, served: Mapping[Key, Manifest],
              deleted: set[Key]) -> None:  # fmt: skip
        kept: dict[Key, Answer | Tombstone] = {
            key: Answer(version, pack(_without_managed_fields(obj)))
            for key, obj in served.items() if (version := _version(obj)) is not None
        }  # fmt: skip
        with self._lock:
            seen = self._seen.get((namespace, stack), {})
            kept |= {key: Tombstone(seen[key]) for key in deleted if key in seen}
            if kept:  # a pass that wrote nothing keeps nothing for the stack
                self._written.setdefault((namespace, stack), {}).update(kept)

    def forget(self, namespace: str, stack: str) -> None:
        """A stack is gone: nothing of it is kept."""
        with self._lock:
            self._written.pop((namespace, stack), None)
            self._seen.pop((namespace, stack), None)


@dataclass(frozen=True)
class Answer:
    """The server's answer to our write of one child, at ``version``, packed (:func:`pack`)."""

    version: int
    packed: bytes

    def newer_than(self, indexed: Mapping[str, Any]) -> bool:
        """Whether this answer is newer than the index's copy."""
        theirs = _version(indexed)
        return theirs is not None and self.version > theirs


@dataclass(frozen=True)
class Tombstone:
    """A child we deleted at ``version``: an index copy of that version or older is stale."""

    version: int

    def outdated_by(self, indexed: Mapping[str, Any]) -> bool:
        theirs = _version(indexed)
        return theirs is not None and theirs > self.version
