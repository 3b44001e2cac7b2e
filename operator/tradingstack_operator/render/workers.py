"""The pipeline workers: a Deployment and a metrics Service each."""

from __future__ import annotations

from collections.abc import Callable

from tradingstack_workers.runtime.settings import env_name

from ..spec import TradingStackSpec
from ..spec.base import Resources
from . import env, leases, names, pods
from .env import Value
from .stack import Manifest, Stack

#: One writer each (cluster state, budgets): a Lease elects it and its writes are fenced
#: (a pod on a partitioned node cannot write); Recreate keeps rollouts to one pod at a time.
SINGLETONS = frozenset({"clusters", "governor"})
#: Scaled out: a drain must leave some replicas serving.
DISRUPTION_BUDGETED = frozenset({"gate"})
#: Time after SIGTERM past the worker's own shutdown grace before the kubelet kills it.
KILL_MARGIN_SECONDS = 10


def _clusters(spec: TradingStackSpec) -> dict[str, Value]:
    c = spec.workers.clusters
    # A price stays put for a whole bar: a feed counts as frozen only after several
    # sampling intervals and several of the longest bars (clusters/freshness.py).
    longest_bar = max((bot.feed.interval_seconds for bot in spec.bots), default=0)
    return {
        "symbols": spec.symbols,
        "lookback_points": c.lookback_points,
        "correlation_threshold": c.correlation_threshold,
        "interval_seconds": c.interval_seconds,
        "frozen_after_seconds": max(5 * c.interval_seconds, 3 * longest_bar),
    }


def _gate(spec: TradingStackSpec) -> dict[str, Value]:
    g = spec.workers.gate
    return {
        "permit_ttl_seconds": g.permit_ttl_seconds,
        "cluster_stale_seconds": g.cluster_stale_seconds,
        "stress_weight_heat": g.stress_weights.heat,
        "stress_weight_conc": g.stress_weights.conc,
        "stress_weight_k": g.stress_weights.k,
    }


def _governor(spec: TradingStackSpec) -> dict[str, Value]:
    g = spec.workers.governor
    return {
        "mode": g.mode,
        "interval_seconds": g.interval_seconds,
        "staleness_seconds": g.staleness_seconds,
        "lkg_max_age_seconds": g.lkg_max_age_seconds,
        "budget_ttl_seconds": g.budget_ttl_seconds,
        "base_risk_pct": g.base_risk_pct,
        "total_risk_pct": g.total_risk_pct,
        "heat_weight": g.stress_weights.heat,
        "cluster_weight": g.stress_weights.cluster,
        "vol_weight": g.stress_weights.vol,
    }


def _intel(spec: TradingStackSpec) -> dict[str, Value]:
    i = spec.workers.intel
    return {
        "alert_medium_pct": i.alert_thresholds.medium,
        "alert_high_pct": i.alert_thresholds.high,
        "alert_critical_pct": i.alert_thresholds.critical,
        "alert_window_seconds": i.alert_window_seconds,
        "alert_dedup_seconds": i.alert_dedup_seconds,
    }


#: spec.workers.<kind> tunables -> the worker's settings fields.
TUNABLES: dict[str, Callable[[TradingStackSpec], dict[str, Value]]] = {
    "clusters": _clusters,
    "gate": _gate,
    "governor": _governor,
    "intel": _intel,
}


def enabled_workers(spec: TradingStackSpec) -> list[str]:
    return [kind for kind in names.WORKER_KINDS if getattr(spec.workers, kind).enabled]


def _probe(path: str, *, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": names.HTTP_PORT},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def container(stack: Stack, kind: str, environ: list[Manifest], resources: Resources) -> Manifest:
    """A worker container: ``tradingstack worker <kind>`` on the shared runtime's port."""
    return {
        "name": kind,
        "image": stack.image,
        "imagePullPolicy": stack.spec.image_pull_policy,
        "command": ["tradingstack", "worker", kind],
        "env": environ,
        "ports": [{"name": "metrics", "containerPort": names.HTTP_PORT, "protocol": "TCP"}],
        # /healthz answers from the heartbeat only, so a Redis outage restarts nothing.
        "livenessProbe": _probe("/healthz", period=10, failures=3),
        "readinessProbe": _probe("/readyz", period=5, failures=2),
        # Up to 5 minutes to import, restore state and beat once before liveness counts.
        "startupProbe": _probe("/healthz", period=5, failures=60),
        "resources": pods.resources(resources),
        "securityContext": pods.container_security(),
        "volumeMounts": [pods.TMP_MOUNT, *env.worker_volumes(stack)[1]],
    }


def deployment(
    stack: Stack,
    name: str,
    kind: str,
    component: str,
    *,
    replicas: int,
    resources: Resources,
    environ: list[Manifest],
    bot: str | None = None,
    strategy: Manifest,
    service_account: str | None = None,
) -> Manifest:
    """A worker or bot Deployment whose pods roll whenever their environment changes."""
    selector = pods.selector(stack, component, bot)
    spec = pods.pod_spec(
        stack,
        [container(stack, kind, environ, resources)],
        spread=selector,
        volumes=env.worker_volumes(stack)[0],
        grace_seconds=env.SHUTDOWN_GRACE_SECONDS + KILL_MARGIN_SECONDS,
        service_account=service_account,
    )
    template_meta = {
        "labels": pods.labels(stack, component, bot),
        "annotations": {pods.CONFIG_HASH: pods.config_hash(environ, spec["volumes"])},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": pods.metadata(stack, name, component, bot),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "strategy": strategy,
            "template": {"metadata": template_meta, "spec": spec},
        },
    }


def _strategy(kind: str) -> Manifest:
    if kind in SINGLETONS:
        return {"type": "Recreate"}
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def worker_env(stack: Stack, kind: str) -> list[Manifest]:
    """The whole environment of a worker: runtime variables, then its tunables (and for a
    singleton, its Lease: named like its Deployment, in the pod's namespace)."""
    values = TUNABLES[kind](stack.spec)
    if kind not in SINGLETONS:
        return [*env.runtime_env(stack, kind), *env.settings_env(kind, values)]
    values |= {"leadership": "kubernetes", "lease_name": names.worker(stack.name, kind)}
    return [
        *env.runtime_env(stack, kind),
        *env.settings_env(kind, values),
        pods.field_env(env_name("lease_namespace"), "metadata.namespace"),
    ]


def manifests(stack: Stack, kind: str) -> list[Manifest]:
    """The worker's Deployment, the Service Prometheus scrapes it through, for the gate a
    disruption budget, for a singleton the RBAC of its Lease."""
    model = getattr(stack.spec.workers, kind)
    name = names.worker(stack.name, kind)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pods.metadata(stack, name, kind),
        "spec": {
            "selector": pods.selector(stack, kind),
            "ports": [
                {
                    "name": "metrics",
                    "port": names.HTTP_PORT,
                    "targetPort": "metrics",
                    "protocol": "TCP",
                }
            ],
        },
    }
    workload = deployment(
        stack,
        name,
        kind,
        kind,
        replicas=model.replicas,
        resources=model.resources,
        environ=worker_env(stack, kind),
        strategy=_strategy(kind),
        service_account=name if kind in SINGLETONS else None,
    )
    out = [workload, service]
    if kind in SINGLETONS:
        out = [*leases.holder_rbac(stack, name, kind, lease=name), *out]
    if kind in DISRUPTION_BUDGETED:
        out.append(pods.disruption_budget(stack, name, kind))
    return out
