"""kmock's KubernetesEmulator, extended to behave like a real API server where kopf needs it.

kmock 0.8 keeps objects as plain merged dicts. This subclass adds what the operator's
tests rely on: uid, a cluster-wide monotonic resourceVersion, generation (spec changes
only), 201 on create, 409 on duplicates and stale resourceVersions, server-side apply
(create, merge, prune, conflicts, and no write when nothing changes), PUT, the status
subresource, list metadata and selectors, watch from a resourceVersion, finalizers and
garbage collection by ownerReferences. Objects stay in kmock's ``objects`` array (with
their history), and every request stays in kmock's request log.

Known simplifications: lists inside objects are atomic (SSA does not merge them by key,
strategic merge patch behaves as a JSON merge patch); no defaulting, validation, admission
or managedFields in the bodies (see ``managers()``); Foreground deletion behaves as
Background; garbage collection runs synchronously inside the DELETE that removes the
owner; namespaces are not required to exist; no pagination (``limit`` is ignored);
``dryRun`` is refused with 400 rather than half-supported.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import datetime
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import attrs
import jsonpatch
import kmock
import yaml
from kmock._internal import parsing
from kmock._internal.rendering import Response
from typing_extensions import override

from tests.operator import k8s_rules as rules
from tests.operator.resources import declare_all

Body = rules.Body
Key = tuple[kmock.resource, str | None, str]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
APPLY = "application/apply-patch+yaml"
MERGE_TYPES = frozenset({"application/merge-patch+json", "application/strategic-merge-patch+json"})
JSON_PATCH = "application/json-patch+json"


_NAMESPACE_PATH = re.compile(r"/api/v1/namespaces(?:/([^/]+)(?:/(status|finalize))?)?/?")
_kmock_parse_path = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    """kmock 0.8 reads /api/v1/namespaces[/x] as a namespace prefix, never as the resource."""
    match = _NAMESPACE_PATH.fullmatch(path)
    if match is None:
        return _kmock_parse_path(path)
    return parsing.ParsedPath("", "v1", "namespaces", None, match[1], match[2])


# kmock parses requests before any handler runs, so the fix has to sit in its parser.
parsing.parse_path = _parse_path


# A reaction answering NotImplemented is skipped (and disabled) by kmock: the next one serves.
_FALL_THROUGH: kmock.Payload = NotImplemented


def api_error(code: int, message: str, reason: str | None = None) -> kmock.KubernetesError:
    """An error that kmock renders as a metav1.Status with this code and reason."""
    return kmock.KubernetesError(
        status=code,
        reason=reason or rules.REASONS.get(code, "Unknown"),
        message=message,
        details={"causes": []},
    )


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _api_version(resource: kmock.resource) -> str:
    return f"{resource.group}/{resource.version}" if resource.group else str(resource.version)


@dataclass(frozen=True)
class WatchEvent:
    rv: int
    resource: kmock.resource
    type: str
    body: Body
    previous: Body | None  # the state before a MODIFIED, to notice selector transitions


@dataclass
class Managed:
    """Which leaf fields one manager owns, and (for Apply) what it applied last."""

    paths: set[rules.Path]
    config: Body | None = None


@dataclass
class Fault:
    """A one-shot injected failure; ``request`` is the request it answered, once fired."""

    status: int
    delay: float
    commit: bool
    request: kmock.Request | None = field(default=None)

    @property
    def fired(self) -> bool:
        return self.request is not None


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    """A stateful Kubernetes API for tests, with every TradingStack-related resource declared."""

    _rv: int = attrs.field(default=0, init=False)
    _events: list[WatchEvent] = attrs.field(factory=list, init=False)
    _changed: asyncio.Event = attrs.field(factory=asyncio.Event, init=False)
    _closing: bool = attrs.field(default=False, init=False)
    # uid -> (manager, operation) -> owned fields; a stand-in for metadata.managedFields.
    _managed: dict[str, dict[tuple[str, str], Managed]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kmock routes no K8s action for PUT; serve it as a replace.
        _ = self.fallback[kmock.method.PUT] << self._serve_replace
        declare_all(self)

    # -- what tests use ----------------------------------------------------------------

    def mark(self) -> int:
        """A position in the request log, to count requests made after it."""
        return len(self._requests)

    def requests_since(self, since: int = 0) -> int:
        """How many requests of any kind arrived after a mark."""
        return len(self._requests) - since

    def writes(self, since: int = 0, *, agent: str | None = None) -> list[tuple[str, str]]:
        """(method, path) of every write request since a mark; optionally of one User-Agent."""
        found = []
        for request in self._requests[since:]:
            if request.method.value not in WRITE_METHODS:
                continue
            if agent is not None and not request.headers.get("User-Agent", "").startswith(agent):
                continue
            found.append((request.method.value, request.url.path))
        return found

    @property
    def resource_version(self) -> int:
        """The cluster's current resourceVersion: it moves only when something is stored."""
        return self._rv

    def changes(self, since: int = 0) -> list[tuple[str, str, str]]:
        """(event type, kind, namespace/name) of every stored change after a resourceVersion.

        Complements writes(): a no-op apply is a write request but not a change.
        """
        index = bisect.bisect_right(self._events, since, key=lambda event: event.rv)
        return [
            (
                e.type,
                e.body["kind"],
                f"{e.body['metadata'].get('namespace', '')}/{e.body['metadata']['name']}",
            )
            for e in self._events[index:]
        ]

    def fail_once(
        self, view: kmock.View, status: int = 500, *, delay: float = 0.0, commit: bool = False
    ) -> Fault:
        """Answer the next request seen through ``view`` with an error, then serve normally.

        ``delay`` holds the answer back (longer than the client's timeout, it is a timeout);
        ``commit=True`` applies the request first, so the client fails although the write
        happened: the case a retry must not duplicate.
        """
        fault = Fault(status=status, delay=delay, commit=commit)

        async def react(request: kmock.Request) -> kmock.Payload:
            if fault.fired:
                return _FALL_THROUGH
            fault.request = request
            if commit:
                _ = await self._serve(request)
            await self._pause(delay)
            message = f"injected fault: {status} for {request.method.value} {request.url.path}"
            return Response(status=status, payload=rules.status_body(status, message))

        _ = view << react
        return fault

    def read(self, resource: kmock.resource | str, namespace: str | None, name: str) -> Body | None:
        """The live object (a copy), or None when absent or removed."""
        key = (kmock.resource(resource), namespace, name)
        found = self._live_body(key)
        return copy.deepcopy(found) if found is not None else None

    def managers(
        self, resource: kmock.resource | str, namespace: str | None, name: str
    ) -> dict[str, set[str]]:
        """Field ownership by manager, as `.a.b` paths (stands in for managedFields)."""
        body = self._live_body((kmock.resource(resource), namespace, name))
        if body is None:
            return {}
        owned = self._managed.get(body["metadata"]["uid"], {})
        return {f"{m}/{op}": {rules.path_text(p) for p in e.paths} for (m, op), e in owned.items()}

    def close(self) -> None:
        """End open watch streams and delayed answers, so the HTTP server stops at once."""
        self._closing = True
        self._wake()

    # -- request routing ---------------------------------------------------------------

    @override
    async def _handle(self, request: kmock.Request) -> Any:
        # kmock's own _handle commits writes before user reactions run, so an injected fault
        # would still change the state. Here every change happens in the fallback handlers,
        # which user reactions (faults) pre-empt.
        return await kmock.RawHandler._handle(self, request)

    async def _serve(self, request: kmock.Request) -> kmock.Payload:
        if request.method == kmock.method.PUT:
            return await self._serve_replace(request)
        handlers: dict[kmock.action, Callable[[kmock.Request], Any]] = {
            kmock.action.CREATE: self._serve_create,
            kmock.action.UPDATE: self._serve_update,
            kmock.action.DELETE: self._serve_delete,
            kmock.action.FETCH: self._serve_fetch,
            kmock.action.LIST: self._serve_list,
        }
        if request.action not in handlers:
            raise api_error(405, f"cannot replay {request.method.value} {request.url.path}")
        result: kmock.Payload = await handlers[request.action](request)
        return result

    @override
    async def _serve_version(self, request: kmock.Request) -> kmock.Payload:
        # kmock reports the core group as "/v1"; clients expect "v1".
        payload = await super()._serve_version(request)
        if isinstance(payload, dict) and str(payload.get("groupVersion", "")).startswith("/"):
            payload["groupVersion"] = payload["groupVersion"][1:]
        return payload

    # -- reads ---------------------------------------------------------------------------

    @override
    async def _serve_fetch(self, request: kmock.Request) -> kmock.Payload:
        key = self._key(request)
        body = self._live_body(key)
        if body is None:
            raise self._not_found(key)
        return copy.deepcopy(body)

    @override
    async def _serve_list(self, request: kmock.Request) -> kmock.Payload:
        info = self._info(request)
        assert request.resource is not None
        matches = self._matcher(request)
        items = [copy.deepcopy(body) for body in self._live(request.resource) if matches(body)]
        return {
            "apiVersion": _api_version(request.resource),
            "kind": f"{info.kind}List",
            "metadata": {"resourceVersion": str(self._rv)},
            "items": items,
        }

    @override
    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[kmock.Payload]:
        # Validation happens before the first chunk, so errors are still plain HTTP errors.
        info = self._info(request)
        resource = request.resource
        assert resource is not None
        matches = self._matcher(request)
        params = request.params
        since = params.get("resourceVersion", "")
        initial = params.get("sendInitialEvents") == "true" or since in ("", "0")
        if not initial and not since.isdigit():
            raise api_error(400, f"invalid resourceVersion: {since!r}")
        loop = asyncio.get_running_loop()
        timeout = params.get("timeoutSeconds")
        deadline = loop.time() + float(timeout) if timeout else None

        # Without a resourceVersion a real server starts with the current state as ADDED;
        # with one, it streams only what happened after it (kmock replays everything).
        position = self._rv if initial else int(since)
        snapshot = [copy.deepcopy(body) for body in self._live(resource) if matches(body)]
        yield b""  # send the headers now, even if nothing happens for a while
        if initial:
            for body in snapshot:
                yield {"type": "ADDED", "object": body}
        if params.get("sendInitialEvents") == "true":
            end = {
                "resourceVersion": str(position),
                "annotations": {"k8s.io/initial-events-end": "true"},
            }
            yield {
                "type": "BOOKMARK",
                "object": {
                    "kind": info.kind,
                    "apiVersion": _api_version(resource),
                    "metadata": end,
                },
            }

        index = bisect.bisect_right(self._events, position, key=lambda event: event.rv)
        while not self._closing:
            while index < len(self._events):
                event = self._events[index]
                index += 1
                translated = self._translate(event, resource, matches)
                if translated is not None:
                    yield translated
            waiter = self._changed
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return
            try:
                await asyncio.wait_for(waiter.wait(), remaining)
            except TimeoutError:
                return

    # -- writes --------------------------------------------------------------------------

    @override
    async def _serve_create(self, request: kmock.Request) -> kmock.Payload:
        info = self._info(request)
        self._refuse_dry_run(request)
        body = self._body(request)
        meta = body.setdefault("metadata", {})
        if request.namespace and meta.get("namespace") not in (None, request.namespace):
            raise api_error(400, "the namespace of the object does not match the request")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise api_error(422, "metadata.name: Required value: name or generateName is required")
        assert request.resource is not None
        key = (request.resource, request.namespace if info.namespaced else None, meta["name"])
        if self._live_body(key) is not None:
            raise api_error(409, f'{info.kind} "{key[2]}" already exists', "AlreadyExists")
        created = self._create(key, body)
        self._take(created, self._manager(request), "Update", None, {})
        return Response(status=201, payload=created)

    async def _serve_replace(self, request: kmock.Request) -> kmock.Payload:
        self._info(request)
        self._refuse_dry_run(request)
        key = self._key(request)
        old = self._existing(key)
        body = self._body(request)
        self._check_version(old, body)
        new = self._update(key, old, body, request.subresource)
        self._take(new, self._manager(request), "Update", None, old)
        return Response(status=200, payload=new)

    @override
    async def _serve_update(self, request: kmock.Request) -> kmock.Payload:
        self._info(request)
        self._refuse_dry_run(request)
        if request.subresource not in (None, "status"):
            raise api_error(404, f"subresource {request.subresource!r} is not served")
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == APPLY:
            return self._apply(request)
        key = self._key(request)
        old = self._existing(key)
        patch = request.data
        if content_type == JSON_PATCH and isinstance(patch, list):
            try:
                candidate = jsonpatch.apply_patch(old, patch)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
                raise api_error(422, f"the JSON patch cannot be applied: {e}") from e
        elif content_type in MERGE_TYPES and isinstance(patch, dict):
            self._check_version(old, patch)
            candidate = rules.merge_patch(old, patch)
        else:
            raise api_error(415, f"unsupported patch: {content_type!r}")
        new = self._update(key, old, candidate, request.subresource)
        self._take(new, self._manager(request), "Update", None, old)
        return Response(status=200, payload=new)

    def _apply(self, request: kmock.Request) -> kmock.Payload:
        """Server-side apply: create or merge, prune what this manager dropped, detect conflicts."""
        manager = request.params.get("fieldManager")
        if not manager:
            raise api_error(400, "fieldManager is required for apply requests")
        applied = request.data if isinstance(request.data, dict) else yaml.safe_load(request.text)
        if (
            not isinstance(applied, dict)
            or not applied.get("apiVersion")
            or not applied.get("kind")
        ):
            raise api_error(400, "an applied object needs apiVersion and kind")
        key = self._key(request)
        if applied.get("metadata", {}).get("name") not in (None, key[2]):
            raise api_error(400, "the name of the object does not match the request")
        config = rules.user_fields(applied)
        old = self._live_body(key)
        if old is None:
            if request.subresource:
                raise self._not_found(key)
            created = self._create(key, applied)
            self._take(created, manager, "Apply", config, {})
            return Response(status=201, payload=created)
        self._check_version(old, applied)
        owned = self._managed.setdefault(old["metadata"]["uid"], {})
        if request.params.get("force") != "true":
            self._check_conflicts(owned, manager, old, config)
        candidate = rules.merge_patch(old, config)
        previous = owned.get((manager, "Apply"))
        if previous is not None and previous.config is not None:
            rules.prune(candidate, previous.config, config)
        new = self._update(key, old, candidate, request.subresource)
        self._take(new, manager, "Apply", config, old)
        return Response(status=200, payload=new)

    @override
    async def _serve_delete(self, request: kmock.Request) -> kmock.Payload:
        self._info(request)
        self._refuse_dry_run(request)
        key = self._key(request)
        old = self._existing(key)
        options = request.data if isinstance(request.data, dict) else {}
        preconditions = options.get("preconditions") or {}
        for field_name in ("uid", "resourceVersion"):
            wanted = preconditions.get(field_name)
            if wanted is not None and wanted != old["metadata"].get(field_name):
                raise api_error(409, f"Precondition failed: {field_name} is {wanted!r}")
        policy = request.params.get("propagationPolicy") or options.get("propagationPolicy")
        return Response(status=200, payload=self._delete(key, policy or "Background"))

    # -- the state machine ----------------------------------------------------------------

    def _create(self, key: Key, body: Body) -> Body:
        resource, namespace, name = key
        info = self.resources[resource]
        body = copy.deepcopy(body)
        body["apiVersion"] = _api_version(resource)
        body["kind"] = info.kind
        meta = body.setdefault("metadata", {})
        for server_field in rules.SERVER_METADATA:
            meta.pop(server_field, None)
        meta.pop("namespace", None)
        meta["name"] = name
        if namespace is not None:
            meta["namespace"] = namespace
        if "status" in info.subresources:
            body.pop("status", None)  # status is written only through /status
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        meta["resourceVersion"] = self._next_rv()
        self._store(key, body)
        self._publish("ADDED", resource, body, None)
        return copy.deepcopy(body)

    def _update(self, key: Key, old: Body, candidate: Body, subresource: str | None) -> Body:
        """Store candidate as the next state of old; no write at all when nothing changes."""
        has_status = "status" in self.resources[key[0]].subresources
        new = self._split_status(old, candidate, subresource, has_status)
        new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for server_field in (*rules.SERVER_METADATA, "name", "namespace"):
            if server_field in old_meta:
                meta[server_field] = old_meta[server_field]
            else:
                meta.pop(server_field, None)
        for list_field in ("finalizers", "ownerReferences"):
            if not meta.get(list_field):
                meta.pop(list_field, None)  # the API server drops empty lists (omitempty)
        added = set(meta.get("finalizers", [])) - set(old_meta.get("finalizers", []))
        if old_meta.get("deletionTimestamp") and added:
            message = f"no new finalizers can be added while deleting: {sorted(added)}"
            raise api_error(422, message)
        if self._spec(new, has_status) != self._spec(old, has_status):
            meta["generation"] = old_meta.get("generation", 1) + 1
        if new == old:
            return copy.deepcopy(old)
        meta["resourceVersion"] = self._next_rv()
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(key, new)  # the last finalizer is gone: the deletion completes
        else:
            self._store(key, new)
            self._publish("MODIFIED", key[0], new, old)
        return copy.deepcopy(new)

    @staticmethod
    def _split_status(
        old: Body, candidate: Body, subresource: str | None, has_status: bool
    ) -> Body:
        """/status changes only the status; the main resource ignores status when /status exists."""
        if subresource == "status":
            new, source = copy.deepcopy(old), candidate
        elif has_status:
            new, source = copy.deepcopy(candidate), old
        else:
            return copy.deepcopy(candidate)
        new.pop("status", None)
        if source.get("status") is not None:
            new["status"] = copy.deepcopy(source["status"])
        return new

    def _delete(self, key: Key, policy: str) -> Body:
        old = self._existing(key)
        meta = old["metadata"]
        if meta.get("deletionTimestamp"):
            return old  # already deleting; waits for its finalizers
        if policy == "Orphan":
            self._orphan(meta["uid"])
        new = copy.deepcopy(old)
        new["metadata"]["resourceVersion"] = self._next_rv()
        if meta.get("finalizers"):
            new["metadata"].update(deletionTimestamp=_now(), deletionGracePeriodSeconds=0)
            self._store(key, new)
            self._publish("MODIFIED", key[0], new, old)
        else:
            self._remove(key, new)
        return copy.deepcopy(new)

    def _remove(self, key: Key, last: Body) -> None:
        self._store(key, last)
        self._objects[key].delete()  # kmock's soft deletion: the history stays for assertions
        self._publish("DELETED", key[0], last, None)
        uid = last["metadata"]["uid"]
        self._managed.pop(uid, None)
        self._collect_garbage(uid)

    def _collect_garbage(self, owner_uid: str) -> None:
        """Delete dependents whose owners are all gone; unlink those with another live owner."""
        live = list(self._live_items())
        alive = {body["metadata"]["uid"] for _, body in live}
        for key, body in live:
            refs = body["metadata"].get("ownerReferences") or []
            if not any(ref.get("uid") == owner_uid for ref in refs) or self._live_body(key) is None:
                continue
            others = [ref for ref in refs if ref.get("uid") != owner_uid]
            if any(ref.get("uid") in alive for ref in others):
                unlinked = copy.deepcopy(body)
                unlinked["metadata"]["ownerReferences"] = others
                self._update(key, body, unlinked, None)
            else:
                self._delete(key, "Background")

    def _orphan(self, owner_uid: str) -> None:
        for key, body in list(self._live_items()):
            refs = body["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") == owner_uid for ref in refs):
                orphaned = copy.deepcopy(body)
                orphaned["metadata"]["ownerReferences"] = [
                    r for r in refs if r.get("uid") != owner_uid
                ]
                self._update(key, body, orphaned, None)

    def _take(
        self, new: Body, manager: str, operation: str, config: Body | None, old: Body
    ) -> None:
        """Record field ownership: a write takes the fields it changed from other managers."""
        owned = self._managed.setdefault(new["metadata"]["uid"], {})
        changed = rules.changed_paths(rules.user_fields(old), rules.user_fields(new))
        for other, entry in owned.items():
            if other != (manager, operation):
                entry.paths -= changed
        if operation == "Apply" and config is not None:
            owned[(manager, operation)] = Managed(set(rules.leaves(config)), config)
        else:
            entry = owned.setdefault((manager, operation), Managed(set()))
            entry.paths |= {path for path in changed if rules.get_path(new, path) is not None}

    def _check_conflicts(
        self, owned: dict[tuple[str, str], Managed], manager: str, old: Body, config: Body
    ) -> None:
        conflicts = sorted(
            f'conflict with "{other}": {rules.path_text(path)}'
            for path, value in rules.leaves(config).items()
            if rules.get_path(old, path) != value
            for (other, _), entry in owned.items()
            if other != manager and path in entry.paths
        )
        if conflicts:
            raise api_error(
                409, f"Apply failed with {len(conflicts)} conflicts: " + "; ".join(conflicts)
            )

    # -- small pieces ------------------------------------------------------------------

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _store(self, key: Key, body: Body) -> None:
        if key in self._objects:
            self._objects[key].history.append(copy.deepcopy(body))
        else:
            self._objects[key] = copy.deepcopy(body)

    def _publish(
        self, kind: str, resource: kmock.resource, body: Body, previous: Body | None
    ) -> None:
        rv = int(body["metadata"]["resourceVersion"])
        self._events.append(WatchEvent(rv, resource, kind, copy.deepcopy(body), previous))
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _pause(self, seconds: float) -> None:
        """Sleep, but no longer than the emulator lives (a held answer must not block teardown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._closing and (remaining := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def _live_items(self) -> Iterator[tuple[Key, Body]]:
        for key, obj in list(self._objects.items()):
            if not obj.deleted:
                yield key, obj.raw

    def _live(self, resource: kmock.resource) -> list[Body]:
        found = [body for key, body in self._live_items() if key[0] == resource]
        return sorted(
            found, key=lambda b: (b["metadata"].get("namespace", ""), b["metadata"]["name"])
        )

    def _live_body(self, key: Key) -> Body | None:
        if key not in self._objects or self._objects[key].deleted:
            return None
        return self._objects[key].raw

    def _existing(self, key: Key) -> Body:
        body = self._live_body(key)
        if body is None:
            raise self._not_found(key)
        return copy.deepcopy(body)

    def _info(self, request: kmock.Request) -> kmock.ResourceInfo:
        if request.resource is None or request.resource not in self.resources:
            raise api_error(
                404, f"the server could not find the requested resource ({request.url.path})"
            )
        return self.resources[request.resource]

    def _key(self, request: kmock.Request) -> Key:
        info = self._info(request)
        assert request.resource is not None
        assert request.name is not None
        return (request.resource, request.namespace if info.namespaced else None, request.name)

    def _not_found(self, key: Key) -> kmock.KubernetesError:
        return api_error(404, f'{key[0].plural} "{key[2]}" not found')

    def _matcher(self, request: kmock.Request) -> Callable[[Body], bool]:
        try:
            labels = rules.label_selector(request.params.get("labelSelector", ""))
            fields = rules.field_selector(request.params.get("fieldSelector", ""))
        except ValueError as e:
            raise api_error(400, str(e)) from e
        namespace = request.namespace

        def matches(body: Body) -> bool:
            meta = body.get("metadata", {})
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            return labels(meta.get("labels") or {}) and fields(body)

        return matches

    @staticmethod
    def _translate(
        event: WatchEvent, resource: kmock.resource, matches: Callable[[Body], bool]
    ) -> Body | None:
        """The event as one watcher sees it: selectors turn edits into ADDED/DELETED."""
        if event.resource != resource:
            return None
        now = matches(event.body)
        before = event.previous is not None and matches(event.previous)
        kind = event.type
        if kind == "MODIFIED" and now != before:
            kind = "ADDED" if now else "DELETED"
        elif not now and not (kind == "MODIFIED" and before):
            return None
        return {"type": kind, "object": copy.deepcopy(event.body)}

    @staticmethod
    def _spec(body: Body, has_status: bool) -> Body:
        """What generation counts: everything but metadata (and status behind /status)."""
        return {
            k: v for k, v in body.items() if k != "metadata" and not (has_status and k == "status")
        }

    @staticmethod
    def _body(request: kmock.Request) -> Body:
        if not isinstance(request.data, dict):
            raise api_error(400, "the request body must be a JSON object")
        return copy.deepcopy(request.data)

    @staticmethod
    def _check_version(old: Body, body: Body) -> None:
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != old["metadata"]["resourceVersion"]:
            message = (
                "the object has been modified; please apply your changes to the latest version"
            )
            raise api_error(409, message)

    @staticmethod
    def _manager(request: kmock.Request) -> str:
        agent = request.headers.get("User-Agent", "unknown")
        return request.params.get("fieldManager") or agent.split("/")[0] or "unknown"

    @staticmethod
    def _refuse_dry_run(request: kmock.Request) -> None:
        if request.params.get("dryRun"):
            raise api_error(400, "dryRun is not supported by the emulator")
