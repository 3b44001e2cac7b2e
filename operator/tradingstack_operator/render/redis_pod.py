"""The Redis pod: redis, sentinel and exporter containers, their environment, probes, volumes.

Timings are derived in one place (:class:`Timings`) from the spec, so the scripts'
deadlines, the probes and the termination grace always fit each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kubernetes.utils import parse_quantity

from . import env, names, pods
from .redis_scripts import (
    CONFIG_DIR,
    DATA_DIR,
    SCRIPTS_DIR,
    USERS,
    USERS_DIR,
    script,
)
from .stack import Manifest, Stack

#: Sentinel and exporter are light and not in the spec: requests equal limits (Guaranteed).
SIDECAR_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "50m", "memory": "64Mi"},
}
PROBE_PERIOD_SECONDS = 5


@dataclass(frozen=True)
class Timings:
    """Seconds, derived from ``spec.redis.sentinel``."""

    #: How long a stopping master's preStop may take to hand over (inside the grace).
    prestop_wait: int
    #: The longest a starting container waits for a usable master (redis.sh, sentinel.sh):
    #: a new volume named master waits out a whole failover.
    start_wait: int
    #: A master cut off from its replicas refuses writes after this lag.
    min_replicas_max_lag: int

    @property
    def grace(self) -> int:
        return self.prestop_wait + 30

    @property
    def startup_failures(self) -> int:
        """startupProbe failureThreshold: the scripts' worst case, plus the server's start."""
        return math.ceil((self.start_wait + 30) / PROBE_PERIOD_SECONDS)


def timings(stack: Stack) -> Timings:
    sentinel = stack.spec.redis.sentinel
    down_after = sentinel.down_after_milliseconds / 1000
    failover = sentinel.failover_timeout_milliseconds / 1000
    return Timings(
        prestop_wait=30,
        start_wait=math.ceil(2 * down_after + failover + 30),
        min_replicas_max_lag=max(1, math.ceil(down_after)),
    )


def maxmemory_bytes(stack: Stack) -> int:
    """``maxmemory``: ``maxmemoryPercent`` of the memory limit (the rule needs the limit)."""
    redis = stack.spec.redis
    limit = parse_quantity(redis.resources.limits["memory"])
    return int(limit * redis.maxmemory_percent / 100)


def environment(stack: Stack) -> list[Manifest]:
    """What the scripts read; everything but the pod's own name is known at render time."""
    redis, sentinel = stack.spec.redis, stack.spec.redis.sentinel
    timing = timings(stack)
    values: dict[str, str | int | bool] = {
        "REDIS_NAMESPACE": stack.namespace,
        "REDIS_STATEFULSET": names.redis(stack.name),
        "REDIS_HEADLESS": names.redis_headless(stack.name),
        "CLUSTER_DOMAIN": stack.options.cluster_domain,
        "REDIS_REPLICAS": redis.replicas,
        "REDIS_SENTINEL": redis.sentinel_enabled,
        "REDIS_MASTER_NAME": names.MASTER_NAME,
        "REDIS_PASSWORD_FILE": env.PASSWORD_FILE,
        "REDIS_USERS_DIR": USERS_DIR,
        "REDIS_KEY_PREFIX": stack.spec.key_prefix,
        "REDIS_MAXMEMORY": maxmemory_bytes(stack),
        "REDIS_APPENDFSYNC": redis.append_fsync,
        "REDIS_TLS": redis.tls.enabled,
        "REDIS_TLS_DIR": env.TLS_DIR,
        "START_WAIT_SECONDS": timing.start_wait,
    }
    if redis.sentinel_enabled:
        values |= {
            "SENTINEL_QUORUM": sentinel.quorum,
            "SENTINEL_DOWN_AFTER_MILLISECONDS": sentinel.down_after_milliseconds,
            "SENTINEL_FAILOVER_TIMEOUT_MILLISECONDS": sentinel.failover_timeout_milliseconds,
            "SENTINEL_PARALLEL_SYNCS": sentinel.parallel_syncs,
            "REDIS_MIN_REPLICAS_MAX_LAG": timing.min_replicas_max_lag,
            "PRESTOP_WAIT_SECONDS": timing.prestop_wait,
        }
    return [
        pods.field_env("POD_NAME", "metadata.name"),
        *({"name": k, "value": env.text(v)} for k, v in values.items()),
    ]


def volumes(stack: Stack) -> list[Manifest]:
    """Scripts, the writable config, both Secrets and (with TLS) the certificate."""
    out: list[Manifest] = [
        {"name": "scripts", "configMap": {"name": names.redis_scripts(stack.name),
                                          "defaultMode": 0o555}},
        {"name": "config", "emptyDir": {"sizeLimit": "16Mi"}},
        env.password_volume(stack),
        {
            "name": "redis-users",
            "secret": {
                "secretName": names.redis_users(stack.name),
                "items": [{"key": user, "path": user} for user in USERS],
                "defaultMode": 0o440,
            },
        },
    ]  # fmt: skip
    if stack.spec.redis.tls.enabled:
        out.append(env.tls_volume(stack))
    return out


def _mounts(stack: Stack) -> list[Manifest]:
    mounts: list[Manifest] = [
        {"name": "scripts", "mountPath": SCRIPTS_DIR, "readOnly": True},
        {"name": "config", "mountPath": CONFIG_DIR},
        pods.TMP_MOUNT,
        env.PASSWORD_MOUNT,
        {"name": "redis-users", "mountPath": USERS_DIR, "readOnly": True},
        # Both containers keep their state on the data volume: the last master and epoch.
        {"name": "data", "mountPath": DATA_DIR},
    ]
    if stack.spec.redis.tls.enabled:
        mounts.append(env.TLS_MOUNT)
    return mounts


def _probe(server: str, mode: str, *, period: int, failures: int) -> Manifest:
    return {
        "exec": {"command": ["sh", script("probe.sh"), server, mode]},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def _probes(stack: Stack, server: str) -> Manifest:
    startup = timings(stack).startup_failures
    return {
        "startupProbe": _probe(server, "startup", period=PROBE_PERIOD_SECONDS, failures=startup),
        "livenessProbe": _probe(server, "alive", period=10, failures=3),
        "readinessProbe": _probe(server, "ready", period=PROBE_PERIOD_SECONDS, failures=3),
    }


def _guaranteed(stack: Stack) -> Manifest:
    """Redis' resources with every request equal to its limit."""
    limits = dict(stack.spec.redis.resources.limits)
    return {"requests": dict(limits), "limits": limits}


def _exporter(stack: Stack) -> Manifest:
    scheme = "rediss" if stack.spec.redis.tls.enabled else "redis"
    environ: list[Manifest] = [
        {"name": "REDIS_ADDR", "value": f"{scheme}://127.0.0.1:{names.REDIS_PORT}"},
        {"name": "REDIS_USER", "value": "exporter"},
        {
            "name": "REDIS_PASSWORD",
            "valueFrom": {
                "secretKeyRef": {"name": names.redis_users(stack.name), "key": "exporter"}
            },
        },
    ]
    if stack.spec.redis.tls.enabled:
        # Loopback inside the pod: the certificate names the pod, not 127.0.0.1.
        environ.append({"name": "REDIS_EXPORTER_SKIP_TLS_VERIFICATION", "value": "true"})
    return {
        "name": "metrics",
        "image": stack.exporter_image,
        "imagePullPolicy": stack.spec.image_pull_policy,
        "env": environ,
        "ports": [
            {"name": "metrics", "containerPort": names.REDIS_METRICS_PORT, "protocol": "TCP"}
        ],
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": "metrics"},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "resources": SIDECAR_RESOURCES,
        "securityContext": pods.container_security(),
    }


def containers(stack: Stack) -> list[Manifest]:
    """redis, then sentinel (with Sentinel), then the exporter (with metrics)."""
    redis_spec = stack.spec.redis
    common = {
        "image": stack.redis_image,
        "imagePullPolicy": stack.spec.image_pull_policy,
        "env": environment(stack),
        "securityContext": pods.container_security(),
        "volumeMounts": _mounts(stack),
    }
    redis: Manifest = {
        "name": "redis",
        **common,
        "command": ["sh", script("redis.sh")],
        "ports": [{"name": "redis", "containerPort": names.REDIS_PORT, "protocol": "TCP"}],
        **_probes(stack, "redis"),
        "resources": _guaranteed(stack),
    }
    out = [redis]
    if redis_spec.sentinel_enabled:
        redis["lifecycle"] = {"preStop": {"exec": {"command": ["sh", script("prestop.sh")]}}}
        out.append(
            {
                "name": "sentinel",
                **common,
                "command": ["sh", script("sentinel.sh")],
                "ports": [{"name": "sentinel", "containerPort": names.SENTINEL_PORT,
                           "protocol": "TCP"}],
                **_probes(stack, "sentinel"),
                "lifecycle": {
                    "preStop": {"exec": {"command": ["sh", script("sentinel-prestop.sh")]}}
                },
                "resources": SIDECAR_RESOURCES,
            }
        )  # fmt: skip
    if redis_spec.metrics.enabled:
        out.append(_exporter(stack))
    return out
