"""One reconciliation of one TradingStack: observe, plan, apply, report.

The decisions are pure (:mod:`.plan`, :mod:`.status`, the renderer); this shell
does the API calls. It is level-based: every run compares the whole desired
state with what the server holds, so a missed event is healed by the next run.
Writes happen only for differences, so a run over a settled stack writes nothing.
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from tradingstack_workers.keys import Keys

from ..children import ChildSource, Listed
from ..kube import STACKS, ApiError, Children, Kube, Manifest
from ..render.names import check_stack_name, redis_users
from ..render.redis_auth import GeneratedSecret, generated_secrets
from ..resources import (
    CHILD_RESOURCES,
    MONITORING_GROUP,
    adopt,
    child_labels,
    resource_of,
)
from ..rotation import RollPasswords
from ..sentinel import PassCredentials, RedisView
from ..spec import SpecError, TradingStackSpec, parse_spec
from .killswitch import WriteKillSwitch, not_written, withhold_new_bots, write_if_redis_runs
from .plan import Key, Plan, key_of, plan
from .rotation import stamp, stamped
from .status import Monitoring, Observation, component, compute_status, transitions

log = logging.getLogger(__name__)

#: The renderer: (name, namespace, spec) -> desired children, without owner references.
Render = Callable[[str, str, TradingStackSpec], list[Manifest]]
#: Asks the sentinels and pods who the master is, and what disagrees (sentinel.py):
#: (name, namespace, spec, the pass's credentials).
MasterProbe = Callable[[str, str, TradingStackSpec, PassCredentials], RedisView]
#: Posts a Kubernetes Event on the TradingStack: (type, reason, message).
Announce = Callable[[str, str, str], None]

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
    #: None: the master is not asked for (the operator cannot reach the pods).
    probe_master: MasterProbe | None = lambda _name, _ns, _spec, _credentials: RedisView()
    #: Writes spec.halted into the stack's Redis and reads it back (see .killswitch).
    kill_switch: WriteKillSwitch = not_written
    attempts: int = 4
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: Where passes read the children from; None: a LIST per kind (:class:`Listed`).
    children: ChildSource | None = None
    #: Moves the stack's Redis to its Secrets' passwords and says which credentials
    #: checksum the workers' pods carry (rotation.py); None: the operator cannot reach
    #: the pods, and the workers keep the checksum they have.
    roll_passwords: RollPasswords | None = None
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
                    return self._once(fresh, announce, last=attempt == self.attempts)
                except ApiError as err:
                    if not err.retryable or attempt == self.attempts:
                        raise
                    log.warning("retrying after API error", extra={"error": str(err)})
                    time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def _once(self, body: Mapping[str, Any], announce: Announce, *, last: bool) -> Outcome:
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
        source = self.children or Listed(self.kube)
        listed = source.observe(namespace, name)
        # Read once, by the first step that logs in to Redis, for all three of them.
        admin = PassCredentials.of(self.kube, name, namespace, spec)
        # Before any child is applied, also when paused: the kill switch waits for nothing.
        switch = write_if_redis_runs(
            self.kill_switch, name, namespace, spec, listed.items, credentials=admin
        )
        users = redis_users(name)
        rollover = None
        if self.roll_passwords is not None and not spec.paused:
            checksum, rollover = self.roll_passwords(name, namespace, spec, listed.items, admin)
        else:
            checksum = stamped(listed.items, users)
        rendered = stamp(self.render(name, namespace, spec), users, checksum)
        desired = withhold_new_bots(rendered, listed.items, switch)
        observed, failures = listed.items, []
        if not spec.paused:
            converged = self._converge(body, spec, desired, listed, last=last)
            outcome.plan, failures = converged.plan, converged.failures
            source.wrote(namespace, name, converged.served, converged.deleted)
            observed = converged.served_after(observed)
        missing = sorted({f"{r.plural}.{r.group}" for r in listed.unserved
                          for m in desired if resource_of(m) == r})  # fmt: skip
        obs = self._observe(
            name, namespace, spec, admin, generation=generation, children=observed,
            apply_errors=failures, monitoring=_monitoring(desired, missing),
        )  # fmt: skip
        obs = replace(obs, kill_switch=switch, halted_key=Keys(spec.key_prefix).halted,
                      rollover=rollover)  # fmt: skip
        self._report(body, obs, announce, outcome)
        return outcome

    def _converge(
        self,
        body: Mapping[str, Any],
        spec: TradingStackSpec,
        desired: list[Manifest],
        listed: Children,
        *,
        last: bool,
    ) -> Convergence:
        """Apply what differs, child by child: one failing child (a 403, a 422, a kind the
        server does not serve) never keeps the others from being applied. A retryable
        failure retries the whole run from a fresh view, except on the last attempt, when
        it is reported like the others."""
        unserved = set(listed.unserved)
        observed = listed.items
        done = Convergence(plan((), ()))
        for generated in generated_secrets(body["metadata"]["name"], spec):
            # Created once and never planned: a rewrite would lock every client out.
            seen = len(observed)
            observed = [c for c in observed if not _is_secret(c, generated.name)]
            if len(observed) == seen:
                create = functools.partial(self._create_secret, body)
                done.attempt(f"Secret/{generated.name}", create, generated)
        for manifest in desired:
            adopt(manifest, body)
        done.plan = plan([m for m in desired if resource_of(m) not in unserved], observed)
        for manifest in sorted(done.plan.apply, key=lambda m: _KIND_ORDER[m["kind"]]):
            key = key_of(manifest)
            log.info("applying", extra={"child": "/".join(key),
                                        "why": done.plan.reasons[key][:5]})  # fmt: skip
            ok, served = done.attempt("/".join(key[1:]), self.kube.apply, manifest)
            if ok:
                done.served[key] = {"apiVersion": key[0], "kind": key[1]} | (served or manifest)
        for manifest in done.plan.delete:
            key = key_of(manifest)
            log.info("deleting", extra={"child": "/".join(key)})
            if done.attempt("/".join(key[1:]), self.kube.delete, manifest)[0]:
                done.deleted.add(key)
        if done.retryable is not None and not last:
            raise done.retryable
        return done

    def _create_secret(
        self, body: Mapping[str, Any], generated: GeneratedSecret
    ) -> Manifest | None:
        """Generated Redis passwords (render/redis_auth.py), deleted with the stack through
        its owner reference.

        Created, never applied: the server refuses an apply that carries what a create
        returns (managedFields), and nothing of it is ours to correct later.
        """
        meta = body["metadata"]
        secret: Manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": generated.name, "namespace": meta["namespace"],
                         "labels": child_labels(meta["name"], generated.component)},
            "type": "Opaque",
            "stringData": {key: secrets.token_urlsafe(32) for key in generated.keys},
        }  # fmt: skip
        adopt(secret, body)
        try:
            return self.kube.create(secret)
        except ApiError as err:
            if err.status != 409:  # 409: made by an earlier run whose answer was lost
                raise
            return None

    def _observe(self, name: str, namespace: str, spec: TradingStackSpec,
                 credentials: PassCredentials, *, generation: int,
                 children: Sequence[Manifest], apply_errors: Sequence[str],
                 monitoring: Monitoring) -> Observation:  # fmt: skip
        redis = None
        workers = []
        for child in children:
            if child["kind"] not in ("StatefulSet", "Deployment"):
                continue
            observed = component(child)
            if child["kind"] == "StatefulSet":
                redis = observed
            else:
                workers.append(observed)
        view = RedisView()
        # Sentinels answer only from running pods; before that a probe would only wait on
        # DNS for names that do not resolve yet.
        probe = self.probe_master
        if redis is not None and redis.ready > 0 and spec.redis.sentinel_enabled and probe:
            view = probe(name, namespace, spec, credentials)
        return Observation(
            generation=generation,
            halted=spec.halted,
            paused=spec.paused,
            apply_error="; ".join(apply_errors) or None,
            monitoring=monitoring,
            redis=redis,
            redis_master=view.master,
            redis_split_brain=view.split_brain,
            redis_probe_problem=view.problem,
            sentinel=spec.redis.sentinel_enabled,
            master_probed=probe is not None,
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
        for event in transitions(previous, status):
            announce(*event)
            outcome.events.append(event)


@dataclass
class Convergence:
    """One run's writes: the plan, what the server answered, and what failed."""

    plan: Plan
    served: dict[Key, Manifest] = field(default_factory=dict)
    deleted: set[Key] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    retryable: ApiError | None = None

    def attempt(
        self, child: str, write: Callable[[Any], Manifest | None], arg: Any
    ) -> tuple[bool, Manifest | None]:
        """``write(arg)``; a failure is recorded against ``child`` instead of raised."""
        try:
            return True, write(arg)
        except ApiError as err:
            log.warning("write failed", extra={"child": child, "error": str(err)})
            self.failures.append(f"{child}: {err}")
            if err.retryable and self.retryable is None:
                self.retryable = err
            return False, None

    def served_after(self, observed: Sequence[Manifest]) -> list[Manifest]:
        """The children as the server holds them after this run's writes."""
        current = {key_of(m): m for m in observed}
        current.update(self.served)
        for key in self.deleted:
            current.pop(key, None)
        return list(current.values())


def _is_secret(child: Manifest, name: str) -> bool:
    return bool(child["kind"] == "Secret" and child["metadata"]["name"] == name)


def _monitoring(desired: Sequence[Manifest], missing: Sequence[str]) -> Monitoring:
    if not any(resource_of(m).group == MONITORING_GROUP for m in desired):
        return Monitoring(enabled=False)
    return Monitoring(enabled=True, missing=tuple(m for m in missing
                                                  if m.endswith(MONITORING_GROUP)))  # fmt: skip


def _same_status(previous: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    return all(previous.get(k) == v for k, v in status.items())


def _status_patch(previous: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch that replaces our status whole (maps merge, so removed keys go to null)."""
    patch: dict[str, Any] = dict(status)
    gone = set(previous.get("components") or {}) - set(status.get("components") or {})
    if gone:
        patch["components"] = dict(status["components"]) | dict.fromkeys(gone)
    return {"status": patch}
