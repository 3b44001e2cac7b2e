"""kopf handlers: every trigger runs the same level-based reconciliation.

A watch event reacts at once to a spec change (one the status has not yet observed:
not to our own status writes); the timer re-compares the whole stack every
``resync_seconds``, which heals a deleted or hand-edited child and
refreshes the status from the children's own status. Neither writes anything
when the stack is as desired, and neither stores kopf progress annotations.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
import kubernetes

from .children import Indexed, Lookup, index_entry, unpack
from .config import OperatorConfig, tune
from .killswitch import sentinel_kill_switch, unreachable
from .kube import Kube
from .metrics import OperatorMetrics, serve
from .reconcile.shell import Reconciler
from .render import render_children
from .resources import CHILD_RESOURCES, FIELD_MANAGER, MANAGED_BY, Resource
from .rotation import password_rollover
from .sentinel import sentinel_master
from .spec import GROUP, PLURAL, VERSION


def _spec_observed(body: kopf.Body) -> bool:
    """True when the status already reports this generation of the spec: the change is
    our own status write, kopf's finalizer or a label, nothing a reconcile would act on
    at once (the timer re-compares everything anyway). Reacting to them cost a full
    pass (1 GET and a LIST per child kind) per write while a stack was being created."""
    status = body.get("status") or {}
    generation = body.get("metadata", {}).get("generation")
    return generation is not None and status.get("observedGeneration") == generation


def _index_id(resource: Resource) -> str:
    """The kopf index of one child kind; kopf passes it to handlers by this name."""
    return f"children_{resource.plural}_{resource.group.replace('.', '_') or 'core'}"


def _indexer(kind: Resource) -> Callable[..., Awaitable[dict[Any, Any]]]:
    # Async: kopf runs a sync handler in its thread pool, one hop per watch event.
    async def index_child(body: kopf.Body, **_: Any) -> dict[Any, Any]:
        return index_entry(kind, body)

    return index_child


def _lookup(index: kopf.Index[Any, Any]) -> Lookup:
    def lookup(key: tuple[str, str]) -> list[Any]:
        return [unpack(value) for value in index.get(key) or ()]

    return lookup


def _api_client() -> kubernetes.client.ApiClient:
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()
    return kubernetes.client.ApiClient()


async def _in_handler_thread(settings: kopf.OperatorSettings, fn: Callable[[], None]) -> None:
    """``fn`` in kopf's handler threads (``max_workers``), as kopf runs a sync handler: with
    the context copied (kopf.event needs it), and waited for when cancelled (a thread cannot
    be cancelled; left running, it would hold a worker)."""
    context = contextvars.copy_context()
    future = asyncio.get_running_loop().run_in_executor(
        settings.execution.executor, context.run, fn
    )
    cancelled: asyncio.CancelledError | None = None
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        raise cancelled
    future.result()


def default_reconciler(config: OperatorConfig) -> Reconciler:
    return production_reconciler(Kube(_api_client(), timeout=config.request_timeout_seconds),
                                 config)  # fmt: skip


def production_reconciler(kube: Kube, config: OperatorConfig) -> Reconciler:
    """The reconciler the operator runs, its steps reaching the stacks' pods through ``kube``
    (the Secrets) and the pods' DNS names (Redis and Sentinel)."""
    options = config.render_options()
    return Reconciler(
        kube=kube,
        children=Indexed(kube, {}),
        render=functools.partial(render_children, options=options),
        probe_master=(
            functools.partial(sentinel_master, options=options) if config.probe_sentinel else None
        ),
        # The kill switch goes the same way as the probe: where the operator cannot reach
        # the pods, it cannot write there either (the Halted condition then says so).
        kill_switch=sentinel_kill_switch(options) if config.probe_sentinel else unreachable,
        roll_passwords=password_rollover(kube, options) if config.probe_sentinel else None,
    )


def build_registry(
    config: OperatorConfig,
    make_reconciler: Callable[[OperatorConfig], Reconciler] = default_reconciler,
) -> kopf.OperatorRegistry:
    """The operator's handlers in a registry of their own (one per test, one in production)."""
    registry = kopf.OperatorRegistry()
    reconcilers: list[Reconciler] = []
    metrics = OperatorMetrics.create()
    servers: list[Any] = []
    kopf_settings: list[kopf.OperatorSettings] = []

    @kopf.on.startup(registry=registry)
    def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        tune(settings, config)
        kopf_settings[:] = [settings]
        reconcilers[:] = [make_reconciler(config)]
        if config.metrics_port is not None:
            servers.append(serve(metrics, config.metrics_port)[0])

    @kopf.on.cleanup(registry=registry)
    def cleanup(**_: Any) -> None:
        while servers:
            servers.pop().shutdown()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_via_client(**kwargs)

    for resource in CHILD_RESOURCES:
        kopf.index(
            group=resource.group, version=resource.api_version.rpartition("/")[2],
            plural=resource.plural, labels={MANAGED_BY: FIELD_MANAGER},
            id=_index_id(resource), registry=registry,
        )(_indexer(resource))  # fmt: skip

    discovery = threading.Lock()

    def run(body: kopf.Body, logger: kopf.Logger, indexes: dict[str, Any]) -> None:
        if body.metadata.get("deletionTimestamp"):
            return  # the children go with the stack, by garbage collection
        source = reconcilers[0].children
        if isinstance(source, Indexed) and not source.lookups:
            # The kinds served at start are the ones kopf watches (it scans once):
            # their children come from its indexes, the others from a LIST per pass.
            # One discovery serves the first passes that start together (at 100 stacks,
            # each of the handler threads asked for its own).
            with discovery:
                if not source.lookups:
                    served = source.kube.served(CHILD_RESOURCES)
                    source.lookups = {r: _lookup(indexes[_index_id(r)]) for r in served}

        def announce(kind: str, reason: str, message: str) -> None:
            kopf.event(body, type=kind, reason=reason, message=message)

        started = time.monotonic()
        try:
            outcome = reconcilers[0].reconcile(dict(body), announce)
        except Exception:
            metrics.failed(time.monotonic() - started)
            raise
        metrics.reconciled(outcome.plan, time.monotonic() - started)
        if outcome.plan is not None and not outcome.plan.is_noop:
            logger.info(
                f"applied {len(outcome.plan.apply)}, deleted {len(outcome.plan.delete)}, "
                f"unchanged {outcome.plan.unchanged}"
            )

    # Async, so that an event that needs no pass takes no handler thread. Our first status
    # write makes kopf's finalizer patch of the same cycle fail (its resourceVersion test:
    # 422); kopf retries it on the stack's next event, our status write's. As a sync
    # handler, that skip queued behind every pass waiting for a thread: at 100 stacks
    # created together, the finalizer landed about 35 s after the stack was reconciled
    # (bench.operator_controlplane).
    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def on_event(type: str, body: kopf.Body, logger: kopf.Logger, **kwargs: Any) -> None:
        if type == "DELETED":
            source = reconcilers[0].children
            if isinstance(source, Indexed):
                source.forget(body.metadata.namespace or "", body.metadata.name or "")
            return
        if type == "MODIFIED" and _spec_observed(body):
            return
        await _in_handler_thread(kopf_settings[0], functools.partial(run, body, logger, kwargs))

    # The first run waits an interval too: the watch event of a new (or, at start, listed)
    # stack reconciles it already, and an immediate timer run read it a second time.
    @kopf.timer(GROUP, VERSION, PLURAL, interval=config.resync_seconds, sharp=False,
                initial_delay=config.resync_seconds, registry=registry)  # fmt: skip
    def resync(body: kopf.Body, logger: kopf.Logger, **kwargs: Any) -> None:
        run(body, logger, kwargs)

    return registry
