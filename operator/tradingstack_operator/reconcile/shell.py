"""One reconciliation of one TradingStack: observe, plan, apply, report.

The decisions are pure (:mod:`.plan`, :mod:`.status`, the renderer); this shell
does the API calls. It is level-based: every run compares the whole desired
state with what the server holds, so a missed event is healed by the next run.
Writes happen only for differences, so a run over a settled stack writes nothing.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..kube import STACKS, ApiError, Kube, Manifest
from ..render.names import check_stack_name, redis_auth
from ..resources import CHILD_RESOURCES, adopt, child_labels, resource_of, stack_selector
from ..spec import SpecError, TradingStackSpec, parse_spec
from .plan import Plan, key_of, plan
from .status import Component, Observation, component_name, compute_status

log = logging.getLogger(__name__)

#: The renderer: (name, namespace, spec) -> desired children, without owner references.
Render = Callable[[str, str, TradingStackSpec], list[Manifest]]
#: Asks Sentinel for the current master; None when unknown.
MasterProbe = Callable[[str, str, TradingStackSpec], str | None]
#: Posts a Kubernetes Event on the TradingStack: (type, reason, message).
Announce = Callable[[str, str, str], None]

AUTH_COMPONENT = "redis-auth"
_KIND_ORDER = {r.kind: i for i, r in enumerate(CHILD_RESOURCES)}


@dataclass
class Outcome:
    """What one run did, for logs, tests and benchmarks."""

    plan: Plan | None = None
    status_written: bool = False
    events: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Reconciler:
    kube: Kube
    render: Render
    probe_master: MasterProbe = lambda _name, _ns, _spec: None
    attempts: int = 4
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)

    def reconcile(self, body: Mapping[str, Any], announce: Announce) -> Outcome:
        """Bring one stack to its desired state; retry transient API errors from a fresh view."""
        meta = body["metadata"]
        lock = self._locks.setdefault((meta["namespace"], meta["name"]), threading.Lock())
        with lock:  # a timer and an event may fire at once for the same stack
            for attempt in range(1, self.attempts + 1):
                try:
                    # The trigger's copy may predate our own last status write; judging
                    # from it would write the same status again (and race kopf's patches).
                    fresh = self.kube.get(STACKS, meta["namespace"], meta["name"])
                    if fresh is None or fresh["metadata"].get("deletionTimestamp"):
                        return Outcome()  # going: garbage collection removes the children
                    return self._once(fresh, announce)
                except ApiError as err:
                    if not err.retryable or attempt == self.attempts:
                        raise
                    log.warning("retrying after API error", extra={"error": str(err)})
                    time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def _once(self, body: Mapping[str, Any], announce: Announce) -> Outcome:
        meta = body["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        generation = int(meta.get("generation") or 0)
        outcome = Outcome()
        try:
            spec = parse_spec(body.get("spec") or {})
            if (problem := check_stack_name(name)) is not None:
                raise SpecError([problem])
        except SpecError as err:
            obs = Observation(
                generation=generation, halted=False, paused=False, spec_error=str(err)
            )
            self._report(body, obs, announce, outcome)
            return outcome
        observed = self.kube.list_children(namespace, stack_selector(name))
        apply_error = None
        if not spec.paused:
            try:
                outcome.plan = self._converge(body, spec, observed)
            except ApiError as err:
                if err.retryable:
                    raise
                apply_error = str(err)
            observed = self._served_after(observed, outcome.plan)
        obs = self._observe(
            name, namespace, spec, generation=generation, children=observed, apply_error=apply_error
        )
        self._report(body, obs, announce, outcome)
        return outcome

    def _converge(self, body: Mapping[str, Any], spec: TradingStackSpec,
                  observed: Sequence[Manifest]) -> Plan:  # fmt: skip
        meta = body["metadata"]
        desired = self.render(meta["name"], meta["namespace"], spec)
        keep = []
        if spec.redis.auth.existing_secret is None:
            keep.append(self._ensure_auth_secret(body, observed))
        for manifest in desired:
            adopt(manifest, body)
        result = plan([*desired, *keep], observed)
        for manifest in sorted(result.apply, key=lambda m: _KIND_ORDER[m["kind"]]):
            log.info("applying", extra={"child": "/".join(key_of(manifest)),
                                        "why": result.reasons[key_of(manifest)][:5]})  # fmt: skip
            served = self.kube.apply(manifest)
            manifest["_served"] = served
        for manifest in result.delete:
            log.info("deleting", extra={"child": "/".join(key_of(manifest))})
            self.kube.delete(manifest)
        return result

    def _ensure_auth_secret(
        self, body: Mapping[str, Any], observed: Sequence[Manifest]
    ) -> Manifest:
        """The generated Redis password: created once, never rewritten (a new one would lock
        every client out), deleted with the stack through its owner reference."""
        name = redis_auth(body["metadata"]["name"])
        for child in observed:
            if child["kind"] == "Secret" and child["metadata"]["name"] == name:
                return child
        secret: Manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": body["metadata"]["namespace"],
                         "labels": child_labels(body["metadata"]["name"], AUTH_COMPONENT)},
            "type": "Opaque",
            "stringData": {"password": secrets.token_urlsafe(32)},
        }  # fmt: skip
        adopt(secret, body)
        try:
            created = self.kube.create(secret)
        except ApiError as err:
            if err.status != 409:
                raise
            created = self.kube.get(resource_of(secret), secret["metadata"]["namespace"], name)
        return {"apiVersion": "v1", "kind": "Secret"} | (created or secret)

    @staticmethod
    def _served_after(observed: Sequence[Manifest], result: Plan | None) -> list[Manifest]:
        """The children as the server holds them after this run's writes."""
        if result is None:
            return list(observed)
        current = {key_of(m): m for m in observed}
        for manifest in result.apply:
            served = manifest.pop("_served", None) or manifest
            current[key_of(manifest)] = {"apiVersion": manifest["apiVersion"],
                                         "kind": manifest["kind"]} | served  # fmt: skip
        for manifest in result.delete:
            current.pop(key_of(manifest), None)
        return list(current.values())

    def _observe(self, name: str, namespace: str, spec: TradingStackSpec, *, generation: int,
                 children: Sequence[Manifest], apply_error: str | None) -> Observation:  # fmt: skip
        redis = None
        workers = []
        for child in children:
            if child["kind"] not in ("StatefulSet", "Deployment"):
                continue
            component = _component(child)
            if child["kind"] == "StatefulSet":
                redis = component
            else:
                workers.append(component)
        master = None
        # Sentinels answer only from running pods; before that a probe would only wait on
        # DNS for names that do not resolve yet.
        if redis is not None and redis.ready > 0 and spec.redis.sentinel_enabled:
            master = self.probe_master(name, namespace, spec)
        return Observation(
            generation=generation,
            halted=spec.halted,
            paused=spec.paused,
            apply_error=apply_error,
            redis=redis,
            redis_master=master,
            sentinel=spec.redis.sentinel_enabled,
            workers=sorted(workers, key=lambda c: c.name),
        )

    def _report(self, body: Mapping[str, Any], obs: Observation, announce: Announce,
                outcome: Outcome) -> None:  # fmt: skip
        previous = body.get("status") or {}
        status = compute_status(obs, previous, self.clock())
        if _same_status(previous, status):
            return
        meta = body["metadata"]
        self.kube.patch_status(meta["namespace"], meta["name"], _status_patch(previous, status))
        outcome.status_written = True
        for event in _transitions(previous, status):
            announce(*event)
            outcome.events.append(event)


def _component(child: Manifest) -> Component:
    spec = child.get("spec") or {}
    status = child.get("status") or {}
    labels = child["metadata"].get("labels") or {}
    generation = child["metadata"].get("generation")
    return Component(
        name=component_name(labels, child["metadata"]["name"]),
        desired=int(spec.get("replicas", 1)),
        ready=int(status.get("readyReplicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
        rolled_out=generation is None or status.get("observedGeneration") == generation,
        current=int(status["replicas"]) if "replicas" in status else None,
    )


def _same_status(previous: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    return all(previous.get(k) == v for k, v in status.items())


def _status_patch(previous: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch that replaces our status whole (maps merge, so removed keys go to null)."""
    patch: dict[str, Any] = dict(status)
    gone = set(previous.get("components") or {}) - set(status.get("components") or {})
    if gone:
        patch["components"] = dict(status["components"]) | dict.fromkeys(gone)
    return {"status": patch}


def _transitions(
    previous: Mapping[str, Any], status: Mapping[str, Any]
) -> list[tuple[str, str, str]]:
    """Events for conditions that flipped (status or reason): Ready, Degraded, Halted."""
    before = {c["type"]: c for c in previous.get("conditions") or []}
    events = []
    for cond in status["conditions"]:
        if cond["type"] not in ("Ready", "Degraded", "Halted"):
            continue
        prior = before.get(cond["type"])
        if prior is not None and (prior["status"], prior["reason"]) == (
            cond["status"],
            cond["reason"],
        ):
            continue
        warning = (cond["type"] == "Degraded" and cond["status"] == "True") or (
            cond["reason"] == "InvalidSpec"
        )
        events.append(("Warning" if warning else "Normal", cond["reason"], cond["message"]))
    return events
