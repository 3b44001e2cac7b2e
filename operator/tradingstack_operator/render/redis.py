"""Redis: a StatefulSet with a Sentinel beside each server, its Services, budget and scripts."""

from __future__ import annotations

from . import env, names, pods
from .redis_scripts import CONFIG_DIR, SCRIPTS, SCRIPTS_DIR
from .stack import Manifest, Stack

COMPONENT = names.REDIS_COMPONENT
#: How long a stopping master waits for a replica to take over (inside the grace period).
PRESTOP_WAIT_SECONDS = 30
GRACE_SECONDS = PRESTOP_WAIT_SECONDS + 30
# Sentinel is light and not in the spec: fixed small resources.
SENTINEL_RESOURCES = {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}}


def _env(stack: Stack) -> list[Manifest]:
    """What the scripts read; everything but the pod's own name is known at render time."""
    redis, sentinel = stack.spec.redis, stack.spec.redis.sentinel
    values: dict[str, str | int | bool] = {
        "REDIS_NAMESPACE": stack.namespace,
        "REDIS_STATEFULSET": names.redis(stack.name),
        "REDIS_HEADLESS": names.redis_headless(stack.name),
        "CLUSTER_DOMAIN": stack.options.cluster_domain,
        "REDIS_REPLICAS": redis.replicas,
        "REDIS_SENTINEL": redis.sentinel_enabled,
        "REDIS_MASTER_NAME": names.MASTER_NAME,
        "REDIS_PASSWORD_FILE": env.PASSWORD_FILE,
    }
    if redis.sentinel_enabled:
        values |= {
            "SENTINEL_QUORUM": sentinel.quorum,
            "SENTINEL_DOWN_AFTER_MILLISECONDS": sentinel.down_after_milliseconds,
            "SENTINEL_FAILOVER_TIMEOUT_MILLISECONDS": sentinel.failover_timeout_milliseconds,
            "SENTINEL_PARALLEL_SYNCS": sentinel.parallel_syncs,
            "PRESTOP_WAIT_SECONDS": PRESTOP_WAIT_SECONDS,
        }
    return [
        pods.field_env("POD_NAME", "metadata.name"),
        *({"name": k, "value": env.text(v)} for k, v in values.items()),
    ]


def _exec_probe(port: int, mode: str, period: int) -> Manifest:
    return {
        "exec": {"command": ["sh", f"{SCRIPTS_DIR}/ping.sh", str(port), mode]},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


_MOUNTS = [
    {"name": "scripts", "mountPath": SCRIPTS_DIR, "readOnly": True},
    {"name": "config", "mountPath": CONFIG_DIR},
    pods.TMP_MOUNT,
    env.PASSWORD_MOUNT,
]


def _containers(stack: Stack, environ: list[Manifest]) -> list[Manifest]:
    common = {
        "image": stack.redis_image,
        "imagePullPolicy": stack.spec.image_pull_policy,
        "env": environ,
        "securityContext": pods.container_security(),
    }
    redis: Manifest = {
        "name": "redis",
        **common,
        "command": ["sh", f"{SCRIPTS_DIR}/redis.sh"],
        "ports": [{"name": "redis", "containerPort": names.REDIS_PORT, "protocol": "TCP"}],
        "livenessProbe": _exec_probe(names.REDIS_PORT, "alive", 10),
        "readinessProbe": _exec_probe(names.REDIS_PORT, "ready", 5),
        "resources": pods.resources(stack.spec.redis.resources),
        "volumeMounts": [*_MOUNTS, {"name": "data", "mountPath": "/data"}],
    }
    if not stack.spec.redis.sentinel_enabled:
        return [redis]
    redis["lifecycle"] = {"preStop": {"exec": {"command": ["sh", f"{SCRIPTS_DIR}/prestop.sh"]}}}
    sentinel = {
        "name": "sentinel",
        **common,
        "command": ["sh", f"{SCRIPTS_DIR}/sentinel.sh"],
        "ports": [{"name": "sentinel", "containerPort": names.SENTINEL_PORT, "protocol": "TCP"}],
        "livenessProbe": _exec_probe(names.SENTINEL_PORT, "alive", 10),
        "readinessProbe": _exec_probe(names.SENTINEL_PORT, "ready", 5),
        "resources": SENTINEL_RESOURCES,
        "volumeMounts": list(_MOUNTS),
    }
    return [redis, sentinel]


def _statefulset(stack: Stack) -> Manifest:
    spec = stack.spec.redis
    environ = _env(stack)
    selector = pods.selector(stack, COMPONENT)
    volumes = [
        {"name": "scripts", "configMap": {"name": names.redis_scripts(stack.name),
                                          "defaultMode": 0o555}},
        {"name": "config", "emptyDir": {"sizeLimit": "16Mi"}},
        env.password_volume(stack),
    ]  # fmt: skip
    pod = pods.pod_spec(
        stack,
        _containers(stack, environ),
        spread=selector,
        volumes=volumes,
        grace_seconds=GRACE_SECONDS,
        fs_group_on_mismatch=True,
    )
    claim: Manifest = {"accessModes": ["ReadWriteOnce"],
                       "resources": {"requests": {"storage": spec.storage.size}}}  # fmt: skip
    if spec.storage.storage_class_name is not None:
        claim["storageClassName"] = spec.storage.storage_class_name
    annotations = {
        pods.CONFIG_HASH: pods.config_hash(environ, SCRIPTS, volumes),
        "kubectl.kubernetes.io/default-container": "redis",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": pods.metadata(stack, names.redis(stack.name), COMPONENT),
        "spec": {
            "replicas": spec.replicas,
            "serviceName": names.redis_headless(stack.name),
            # Pod 0 first on a cold start: it is the master when no sentinel answers yet.
            "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": pods.labels(stack, COMPONENT), "annotations": annotations},
                "spec": pod,
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim}],
            # Deleting the stack keeps the data; the claims are removed by hand.
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
        },
    }


def _ports(stack: Stack) -> list[Manifest]:
    ports = [{"name": "redis", "port": names.REDIS_PORT, "targetPort": "redis",
              "protocol": "TCP"}]  # fmt: skip
    if stack.spec.redis.sentinel_enabled:
        ports.append({"name": "sentinel", "port": names.SENTINEL_PORT,
                      "targetPort": "sentinel", "protocol": "TCP"})  # fmt: skip
    return ports


def _services(stack: Stack) -> list[Manifest]:
    selector = pods.selector(stack, COMPONENT)
    headless = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pods.metadata(stack, names.redis_headless(stack.name), COMPONENT),
        "spec": {
            "clusterIP": "None",
            # Pods find each other by name before they are ready (first boot, failover).
            "publishNotReadyAddresses": True,
            "selector": selector,
            "ports": _ports(stack),
        },
    }
    # With Sentinel, clients ask the sentinels for the master: 6379 through a load-balanced
    # Service could land on a read-only replica, so only 26379 is offered.
    if stack.spec.redis.sentinel_enabled:
        client_selector, client_ports = selector, _ports(stack)[1:]
    else:
        # Without Sentinel pod 0 is the only master: the Service sends clients there only.
        pod_0 = {"statefulset.kubernetes.io/pod-name": f"{names.redis(stack.name)}-0"}
        client_selector, client_ports = selector | pod_0, _ports(stack)
    client = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pods.metadata(stack, names.redis(stack.name), COMPONENT),
        "spec": {"selector": client_selector, "ports": client_ports},
    }
    return [headless, client]


def manifests(stack: Stack) -> list[Manifest]:
    """Scripts, Services, the StatefulSet and (with replicas) its disruption budget."""
    scripts = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": pods.metadata(stack, names.redis_scripts(stack.name), COMPONENT),
        "data": dict(SCRIPTS),
    }
    out = [scripts, *_services(stack), _statefulset(stack)]
    if stack.spec.redis.replicas > 1:
        out.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": pods.metadata(stack, names.redis(stack.name), COMPONENT),
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": pods.selector(
                    stack, COMPONENT)}},
            }
        )  # fmt: skip
    return out
